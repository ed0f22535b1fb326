# make install and make deb: the binary, the manual page, the config, the
# systemd unit, and the sysusers.d/tmpfiles.d entries that create the
# ctlmirror user and its store. The config lives in /etc whatever the prefix
# (every command reads /etc/ctlmirror/ctlmirror.conf by default); the rest
# follows the prefix, and DESTDIR applies to all of it.
include(GNUInstallDirs)

install(TARGETS ctlmirror RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES docs/ctlmirror.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES etc/ctlmirror.conf DESTINATION /etc/ctlmirror)
install(FILES etc/ctlmirror.sysusers DESTINATION lib/sysusers.d RENAME ctlmirror.conf)
install(FILES etc/ctlmirror.tmpfiles DESTINATION lib/tmpfiles.d RENAME ctlmirror.conf)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# The unit names the binary by its installed path, known only at install time
# (make deb installs under /usr, make install under PREFIX).
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/etc/ctlmirror.service\" unit)
  string(REPLACE \"/usr/local/bin/ctlmirror\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/ctlmirror\" unit \"\${unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/ctlmirror.service.installed\" \"\${unit}\")
")
install(FILES ${PROJECT_BINARY_DIR}/ctlmirror.service.installed
    DESTINATION lib/systemd/system RENAME ctlmirror.service)

# make deb: a Debian package (CPack), prefix /usr.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ctlmirror)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "ctlmirror maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "verifying mirror and caching proxy for Windows certificate trust lists")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/deb/conffiles
    ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
    ${PROJECT_SOURCE_DIR}/cmake/deb/prerm
    ${PROJECT_SOURCE_DIR}/cmake/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
