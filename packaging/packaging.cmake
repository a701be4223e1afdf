# What an installed system needs besides the programs and the library: man pages, systemd units,
# the sysusers.d entry and the bash completion; then the Debian package, made by CPack from all
# the install rules (`cpack -G DEB`, see packaging/deb/build-deb.sh).

# Man pages, compressed as Debian ships them (gzip -n: no name or time stamp in the file).
set(SMTPSTATUS_MAN_PAGES smtpstatus.1 libsmtpstatus.3 smtpstatusd.8 smtpstatus-integrations.7)
set(_man_gz "")
foreach(page ${SMTPSTATUS_MAN_PAGES})
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/packaging/man/${page} > ${gz}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/man/${page}
    COMMENT "Compressing the man page ${page}")
  list(APPEND _man_gz ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(smtpstatus_man ALL DEPENDS ${_man_gz})

# systemd: under the prefix, /usr/lib/systemd/system and /usr/lib/sysusers.d, which Debian 12's
# merged /usr also shows as /lib (SMTPSTATUS_SYSTEMD_UNITDIR is relative to the install prefix
# unless absolute).
set(SMTPSTATUS_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING "where the systemd units go")
set(SMTPSTATUS_SYSUSERSDIR lib/sysusers.d CACHE STRING "where the sysusers.d entry goes")
install(FILES packaging/systemd/smtpstatusd.service packaging/systemd/smtpstatusd.socket
              packaging/systemd/smtpstatus-update.service packaging/systemd/smtpstatus-update.timer
        DESTINATION ${SMTPSTATUS_SYSTEMD_UNITDIR})
install(FILES packaging/systemd/smtpstatusd.sysusers DESTINATION ${SMTPSTATUS_SYSUSERSDIR}
        RENAME smtpstatusd.conf)
install(FILES packaging/bash-completion/smtpstatus
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# ---- the Debian package ----------------------------------------------------------------------
# One package, smtpstatusd: the daemon, the CLI, the library with its headers, pkg-config and
# CMake files, the .proto, man pages, units and completion. Its maintainer scripts create the
# user (sysusers.d, else adduser), enable the socket and the service as dh_installsystemd would,
# and on purge remove what the daemon and `smtpstatus update` made.
set(_doc ${CMAKE_INSTALL_DATADIR}/doc/smtpstatusd)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/packaging/deb/changelog > ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/deb/changelog)
add_custom_target(smtpstatus_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.Debian.gz packaging/deb/copyright DESTINATION ${_doc})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smtpstatusd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(SMTPSTATUS_DEB_MAINTAINER
    "Seed 143b28d1 maintainers <maintainers@users.noreply.h-seed-143b28d1.example>"
    CACHE STRING "the Maintainer of the Debian package")
set(CPACK_PACKAGE_CONTACT "${SMTPSTATUS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SMTP enhanced status codes registry daemon and library")
# The extended description: CPack indents each line and writes an empty line as " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "smtpstatusd holds the IANA SMTP Enhanced Status Codes registry and answers
the mail software on the host: what an enhanced code such as 5.7.26 means,
which codes go with a basic reply code, how to render a correct reply, and
whether a server's reply should be retried.

This package has the daemon, the smtpstatus command (with `smtpstatus
update`, which keeps the registry current with IANA), and libsmtpstatus
with its headers, pkg-config and CMake files and the protobuf API.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
# python3: the package ships the `smtpstatus` Python module (lintian's
# python-package-missing-depends-on-python), until python3-smtpstatus is a package of its own.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd")
# `smtpstatus update` fetches from IANA over https: libcurl needs the CA certificates.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
  ${CMAKE_SOURCE_DIR}/packaging/deb/postrm ${CMAKE_SOURCE_DIR}/packaging/deb/triggers)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/" "/\\\\.git/")
include(CPack)
