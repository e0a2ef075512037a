# USB enforcement (issue 4): the descriptors parser, sysfs "authorized" writes, the lockout guard, the
# policy snapshot, and mnguard-udev, which udev runs so that blocking holds while mnguardd is down.
# include()d from agent/CMakeLists.txt.
target_sources(mnguard-agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/usb-descriptors.c
  ${CMAKE_CURRENT_LIST_DIR}/usb-enforce.c
  ${CMAKE_CURRENT_LIST_DIR}/lockout.c
  ${CMAKE_CURRENT_LIST_DIR}/snapshot.c)

# Run by udev: decides from the policy snapshot while mnguardd is down (fail closed).
add_executable(mnguard-udev
  ${CMAKE_CURRENT_LIST_DIR}/mnguard-udev.c
  ${CMAKE_CURRENT_LIST_DIR}/udev-helper.c)
target_link_libraries(mnguard-udev PRIVATE mnguard-agent mnguard-policy-io PkgConfig::SYSTEMD)
install(TARGETS mnguard-udev RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/mnguard COMPONENT agent)

# The udev rule, naming mnguard-udev where it is installed (installer/udev/70-mnguard.rules says
# /usr/libexec/mnguard/mnguard-udev).
set(MNGUARD_UDEV_RULES_DIR "${CMAKE_INSTALL_PREFIX}/lib/udev/rules.d" CACHE PATH "Where the udev rule is installed")
set(_mnguard_rules_src ${PROJECT_SOURCE_DIR}/installer/udev/70-mnguard.rules)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_mnguard_rules_src})
file(READ ${_mnguard_rules_src} _mnguard_rules)
string(REPLACE "/usr/libexec/mnguard/mnguard-udev" "${CMAKE_INSTALL_FULL_LIBEXECDIR}/mnguard/mnguard-udev"
       _mnguard_rules "${_mnguard_rules}")
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/70-mnguard.rules CONTENT "${_mnguard_rules}" @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/70-mnguard.rules DESTINATION ${MNGUARD_UDEV_RULES_DIR} COMPONENT agent)
