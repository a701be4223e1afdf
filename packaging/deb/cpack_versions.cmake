# Read by cpack (CPACK_PROJECT_CONFIG_FILE) after the -D options, so that the packages that must
# come from one build name the release being made (`cpack -D CPACK_DEBIAN_PACKAGE_RELEASE=2`).
set(_this_build "${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libsmtpstatus0 (= ${_this_build}), ${CPACK_SMTPSTATUS_DEV_DEPENDS}")
# The Python module mirrors this release's structures in ctypes: only its own library will do.
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "libsmtpstatus0 (= ${_this_build}), python3:any")
