# Removable block devices (issue 5): BLKROSET on read-only media, the mount guard (libmount monitor +
# fanotify deny + detach), the write audit of allowed read-write media, and agent.conf's extra
# removable-media patterns. include()d from agent/CMakeLists.txt. See docs/block-devices.md.
pkg_check_modules(MOUNT REQUIRED IMPORTED_TARGET GLOBAL mount)
# SHA-256 of written files (the hashing thread): nettle's (PkgConfig::NETTLE, top level) uses the
# CPU's SHA extensions.
find_package(Threads REQUIRED)

target_sources(mnguard-agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/removable-patterns.c
  ${CMAKE_CURRENT_LIST_DIR}/block-enforce.c
  ${CMAKE_CURRENT_LIST_DIR}/proc-info.c
  ${CMAKE_CURRENT_LIST_DIR}/mount-guard.c
  ${CMAKE_CURRENT_LIST_DIR}/write-audit.c
  ${CMAKE_CURRENT_LIST_DIR}/write-audit-fanotify.c
  ${CMAKE_CURRENT_LIST_DIR}/write-audit-hash.c)

target_link_libraries(mnguard-agent PUBLIC
  PkgConfig::MOUNT PkgConfig::NETTLE PkgConfig::SYSTEMD PkgConfig::JSONC Threads::Threads)
