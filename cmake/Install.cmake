# Install rules and the Debian package (CPack DEB). `cmake --install <build> --prefix /usr`
# gives /usr/bin/meridian-*, /usr/lib/systemd/system/*.service, /usr/share/doc/meridian/
# (READMEs, examples/) and /etc/meridian/{sidecar,topology}.toml; `cpack -G DEB` in the build
# tree (or `cpack -G DEB --config <build>/CPackConfig.cmake -B <dir>`) gives
# meridian_<version>_<arch>.deb. systemd/README.md explains the units.
include(GNUInstallDirs)

# Configs the units read (ConfigurationDirectory=meridian is always /etc/meridian). DESTDIR
# applies, so a staging install writes <DESTDIR>/etc/meridian.
set(MERIDIAN_CONFIG_DIR "/etc/meridian" CACHE PATH "Where the sample configs are installed")
set(MERIDIAN_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "systemd unit folder, relative to the install prefix")

foreach(program meridian-sidecar meridian-node meridian)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# Units are generated at install time, from the prefix given then (`cmake --install --prefix`,
# or /usr when CPack builds the package), so ExecStart always names the installed binaries.
set(_units meridian-sidecar.service meridian-node@.service meridian-arbiter.service)
set(_unit_stage ${CMAKE_BINARY_DIR}/systemd-install)
foreach(unit ${_units})
  install(CODE "
    set(MERIDIAN_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(MERIDIAN_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATAROOTDIR}/doc/meridian\")
    configure_file(\"${CMAKE_SOURCE_DIR}/systemd/${unit}.in\" \"${_unit_stage}/${unit}\" @ONLY)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${MERIDIAN_SYSTEMD_UNIT_DIR}\"
         TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"${_unit_stage}/${unit}\")
  ")
endforeach()

# Documentation: the READMEs and every example config.
set(_docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/meridian)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${_docdir})
install(FILES ${CMAKE_SOURCE_DIR}/systemd/README.md DESTINATION ${_docdir}/systemd)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/conf/ DESTINATION ${_docdir}/examples
        FILES_MATCHING PATTERN "*.toml" PATTERN "README.md")
# Starting points in /etc/meridian, edited in place by the operator (conffiles in the package).
set(MERIDIAN_ETC_FILES sidecar.toml topology.toml)
foreach(f ${MERIDIAN_ETC_FILES})
  install(FILES ${CMAKE_SOURCE_DIR}/conf/${f} DESTINATION ${MERIDIAN_CONFIG_DIR}
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endforeach()

# The Debian package. Maintainer scripts: postinst creates the user `meridian` and
# /var/lib/meridian and starts nothing; prerm stops running units on removal; postrm purge
# removes /var/lib/meridian, /etc/meridian and the user.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meridian)
set(CPACK_PACKAGE_VENDOR "Meridian")
set(CPACK_PACKAGE_CONTACT "Meridian maintainers <meridian@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Multi-region NATS JetStream: region-aware sidecar, NATS-compatible node, CLI")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(_conffiles ${CMAKE_BINARY_DIR}/debian/conffiles)
set(_conffiles_text "")
foreach(f ${MERIDIAN_ETC_FILES})
  string(APPEND _conffiles_text "${MERIDIAN_CONFIG_DIR}/${f}\n")
endforeach()
file(WRITE ${_conffiles} "${_conffiles_text}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/cmake/debian/postinst ${CMAKE_SOURCE_DIR}/cmake/debian/prerm
    ${CMAKE_SOURCE_DIR}/cmake/debian/postrm ${_conffiles})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
