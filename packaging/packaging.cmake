# What an installed system needs besides the programs and the library: man pages, systemd units,
# the sysusers.d entry and the bash completion; then the Debian packages, made by CPack from the
# install rules' components (`cpack -G DEB`, see packaging/deb/build-deb.sh).

# Man pages, compressed as Debian ships them (gzip -n: no name or time stamp in the file), each
# with the package of what it documents.
set(SMTPSTATUS_MAN_PAGES smtpstatus.1:cli libsmtpstatus.3:dev smtpstatusd.8:daemon
    smtpstatusd-update.8:daemon smtpstatus-integrations.7:cli)
set(_man_gz "")
foreach(entry ${SMTPSTATUS_MAN_PAGES})
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 page)
  list(GET entry 1 component)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/packaging/man/${page} > ${gz}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/man/${page}
    COMMENT "Compressing the man page ${page}")
  list(APPEND _man_gz ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT ${component})
endforeach()
add_custom_target(smtpstatus_man ALL DEPENDS ${_man_gz})

# systemd: the units name the programs under /usr (/usr/sbin/smtpstatusd), and the sysusers.d
# entry makes a system user, so they are installed only for a system prefix, /usr, unless asked:
# a `cmake --install` to /usr/local leaves them out. They go to /usr/lib/systemd/system and
# /usr/lib/sysusers.d, which Debian 12's merged /usr also shows as /lib
# (SMTPSTATUS_SYSTEMD_UNITDIR is relative to the install prefix unless absolute).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_system_prefix ON)
else()
  set(_system_prefix OFF)
endif()
option(SMTPSTATUS_INSTALL_SYSTEMD
       "install the systemd units and the sysusers.d entry (they name /usr/sbin and /usr/bin)"
       ${_system_prefix})
set(SMTPSTATUS_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING "where the systemd units go")
set(SMTPSTATUS_SYSUSERSDIR lib/sysusers.d CACHE STRING "where the sysusers.d entry goes")
if(SMTPSTATUS_INSTALL_SYSTEMD)
  install(FILES packaging/systemd/smtpstatusd.service packaging/systemd/smtpstatusd.socket
                packaging/systemd/smtpstatus-update.service packaging/systemd/smtpstatus-update.timer
          DESTINATION ${SMTPSTATUS_SYSTEMD_UNITDIR} COMPONENT daemon)
  install(FILES packaging/systemd/smtpstatusd.sysusers DESTINATION ${SMTPSTATUS_SYSUSERSDIR}
          RENAME smtpstatusd.conf COMPONENT daemon)
endif()
install(FILES packaging/bash-completion/smtpstatus
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT cli)

# ---- the Debian packages ----------------------------------------------------------------------
# One package per install component, as Debian splits a library's users:
#   smtpstatusd         daemon: the daemon, its units and sysusers.d entry, smtpstatusd-update
#                       (what `smtpstatus update` runs) and its timer;
#                       maintainer scripts that make the user, enable the units, clean on purge
#   smtpstatus          cli: the command, its bounce helper, completion, the cookbook man page
#   libsmtpstatus0      lib: the shared library (shlibs file, ldconfig trigger)
#   libsmtpstatus-dev   dev: headers, static library, the .so link, pkg-config and CMake files,
#                       the .proto and its framing notes
#   python3-smtpstatus  python: the ctypes package over libsmtpstatus.so.0 (no compiled code)
# The dependencies between them that name a version are set at cpack time
# (packaging/deb/cpack_versions.cmake), so that a release given with -D is the one they name.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL daemon cli lib dev python)
set(SMTPSTATUS_DEB_NAMES daemon:smtpstatusd cli:smtpstatus lib:libsmtpstatus0
    dev:libsmtpstatus-dev python:python3-smtpstatus)

# Every package has its copyright and changelog under /usr/share/doc/PACKAGE, and the lintian
# lintian overrides, each with its reason: packaging/deb/lintian-overrides for all, then
# packaging/deb/PACKAGE/lintian-overrides for one.
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/packaging/deb/changelog > ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/deb/changelog)
add_custom_target(smtpstatus_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
foreach(entry ${SMTPSTATUS_DEB_NAMES})
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 component)
  list(GET entry 1 package)
  string(TOUPPER ${component} COMP)
  set(CPACK_DEBIAN_${COMP}_PACKAGE_NAME ${package})
  install(FILES ${CMAKE_BINARY_DIR}/changelog.Debian.gz packaging/deb/copyright
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
  file(READ packaging/deb/lintian-overrides _overrides)
  if(EXISTS ${CMAKE_SOURCE_DIR}/packaging/deb/${package}/lintian-overrides)
    file(READ packaging/deb/${package}/lintian-overrides _own)
    string(APPEND _overrides "${_own}")
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/lintian-overrides/${package} "${_overrides}")
  install(FILES ${CMAKE_BINARY_DIR}/lintian-overrides/${package}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smtpstatusd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(SMTPSTATUS_DEB_MAINTAINER
    "Seed 143b28d1 maintainers <maintainers@users.noreply.h-seed-143b28d1.example>"
    CACHE STRING "the Maintainer of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${SMTPSTATUS_DEB_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/packaging/deb/cpack_versions.cmake)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/" "/\\\\.git/")

# Each description's first line is the package's summary; CPack indents the rest and writes an
# empty line as " .".
set(_about "smtpstatusd holds the IANA SMTP Enhanced Status Codes registry and answers
the mail software on the host: what an enhanced code such as 5.7.26 means,
which codes go with a basic reply code, how to render a correct reply, and
whether a server's reply or a bounce should be retried, and why.")

set(CPACK_DEBIAN_DAEMON_DESCRIPTION "SMTP status codes daemon
${_about}

This package has the daemon with its systemd units, its socket API,
JSON port and Postfix socketmap tables, and the timer that keeps the
registry current with IANA.")
set(CPACK_DEBIAN_DAEMON_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_DAEMON_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DAEMON_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_DAEMON_PACKAGE_SUGGESTS "systemd")
# The registry update fetches from IANA over https: libcurl needs the CA certificates.
set(CPACK_DEBIAN_DAEMON_PACKAGE_RECOMMENDS "ca-certificates, smtpstatus")
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/deb/smtpstatusd/postinst
  ${CMAKE_SOURCE_DIR}/packaging/deb/smtpstatusd/prerm ${CMAKE_SOURCE_DIR}/packaging/deb/smtpstatusd/postrm)

set(CPACK_DEBIAN_CLI_DESCRIPTION "SMTP status codes from the command line
${_about}

This package has the smtpstatus command: lookups, rendering, reply and
bounce classification, answered by the daemon's shared image when it runs
and by the built-in registry when it does not.")
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_CLI_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_CLI_PACKAGE_SUGGESTS "smtpstatusd")

set(CPACK_DEBIAN_LIB_DESCRIPTION "SMTP status codes library
${_about}

This package has libsmtpstatus, which answers from the daemon's shared
image without a system call, through its socket, or from the registry
built into it.")
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/deb/libsmtpstatus0/triggers
  ${CMAKE_SOURCE_DIR}/packaging/deb/libsmtpstatus0/postinst
  ${CMAKE_SOURCE_DIR}/packaging/deb/libsmtpstatus0/postrm)
set(CPACK_DEBIAN_LIB_PACKAGE_SUGGESTS "smtpstatusd")

set(CPACK_DEBIAN_DEV_DESCRIPTION "SMTP status codes library: development files
${_about}

This package has the headers, the static library, the pkg-config and CMake
files of libsmtpstatus, and the protobuf definition of the socket API.")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# A static link needs protobuf-c and Vectorscan's runtime (the .pc's Libs.private).
set(CPACK_SMTPSTATUS_DEV_DEPENDS "libprotobuf-c-dev, libvectorscan-dev")

set(CPACK_DEBIAN_PYTHON_DESCRIPTION "SMTP status codes for Python
${_about}

This package has the smtpstatus Python module over libsmtpstatus.")
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_PACKAGE_ARCHITECTURE all)
include(CPack)
