# Removable block devices (issue 5): BLKROSET on read-only media, the mount guard (libmount monitor +
# fanotify deny + detach), the write audit of allowed read-write media, and agent.conf's extra
# removable-media patterns. include()d from agent/CMakeLists.txt. See docs/block-devices.md.
pkg_check_modules(MOUNT REQUIRED IMPORTED_TARGET GLOBAL mount)
find_package(Threads REQUIRED)

target_sources(mnguard-agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/removable-patterns.c
  ${CMAKE_CURRENT_LIST_DIR}/block-enforce.c
  ${CMAKE_CURRENT_LIST_DIR}/proc-info.c
  ${CMAKE_CURRENT_LIST_DIR}/mount-guard.c)

# The modules build their events with agent/event.c, which lives in mnguard-daemon (daemon.cmake);
# mnguard-daemon links mnguard-agent in turn. CMake repeats such a cycle of static libraries on the
# link line, so a program linking either one gets both resolved.
target_link_libraries(mnguard-agent PUBLIC
  mnguard-daemon PkgConfig::MOUNT PkgConfig::SYSTEMD PkgConfig::SODIUM PkgConfig::JSONC Threads::Threads)
