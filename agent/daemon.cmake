# The daemon: manager, control socket, events. Shared with later issues' modules through mnguard-daemon.
add_library(mnguard-daemon STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/control.c
  ${CMAKE_CURRENT_SOURCE_DIR}/host-id.c
  ${CMAKE_CURRENT_SOURCE_DIR}/manager.c
  ${CMAKE_CURRENT_SOURCE_DIR}/manager-exceptions.c
  ${CMAKE_CURRENT_SOURCE_DIR}/usb-watch.c
  ${CMAKE_CURRENT_SOURCE_DIR}/media-watch.c
  ${CMAKE_CURRENT_SOURCE_DIR}/daemon-verbs.c
  ${CMAKE_CURRENT_SOURCE_DIR}/reporter.c
  ${CMAKE_CURRENT_SOURCE_DIR}/reporter-enroll.c
  ${CMAKE_CURRENT_SOURCE_DIR}/reporter-csr.c
  ${CMAKE_CURRENT_SOURCE_DIR}/curl-dl.c
  ${CMAKE_CURRENT_SOURCE_DIR}/reporter-retry.c
  ${CMAKE_CURRENT_SOURCE_DIR}/policy-fetch.c
  ${CMAKE_CURRENT_SOURCE_DIR}/policy-fetch-reply.c)
target_include_directories(mnguard-daemon PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
# the reporter (issue 6): libcurl for HTTPS to the collector, GnuTLS (under libcurl anyway) for the enrollment
# key and CSR, both loaded when first needed
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
find_package(Threads REQUIRED)
target_link_libraries(mnguard-daemon PUBLIC mnguard-agent mnguard-journal mnguard-policy-io mnguard-sign
                      PkgConfig::SYSTEMD PkgConfig::SODIUM PkgConfig::JSONC
                      PkgConfig::DEFLATE Threads::Threads ${CMAKE_DL_LIBS})
# libcurl and GnuTLS are dlopen()ed when a collector is configured (curl-dl.h, reporter-csr.c say why): their
# headers only.
target_include_directories(mnguard-daemon PRIVATE $<TARGET_PROPERTY:PkgConfig::CURL,INTERFACE_INCLUDE_DIRECTORIES>
                           $<TARGET_PROPERTY:PkgConfig::GNUTLS,INTERFACE_INCLUDE_DIRECTORIES>)

# Exception tickets: parsed by the daemon, made by mnguard-policy ticket.
add_library(mnguard-exception STATIC ${CMAKE_CURRENT_SOURCE_DIR}/exception.c)
target_link_libraries(mnguard-exception PUBLIC mnguard-agent mnguard-sign mnguard-journal)
target_link_libraries(mnguard-daemon PUBLIC mnguard-exception)

add_executable(mnguardd ${CMAKE_CURRENT_SOURCE_DIR}/mnguardd.c)
target_link_libraries(mnguardd PRIVATE mnguard-daemon)
install(TARGETS mnguardd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT agent)
