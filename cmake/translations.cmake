# Translations: po/LANG.po (gettext catalogs, msgids in English) compiled by
# msgfmt into BUILD/locale/LANG/LC_MESSAGES/ctlmirror.mo, where a binary run
# from the build tree finds them (proxy/lang.c), and installed under
# LOCALEDIR. `make po` refreshes po/ctlmirror.pot and merges it into each
# catalog; the po_complete test fails while a message lacks its translation.
include(GNUInstallDirs)
find_program(MSGFMT msgfmt REQUIRED)

set(CTLMIRROR_LANGS ja)
set(mos)
foreach(lang ${CTLMIRROR_LANGS})
  set(mo ${PROJECT_BINARY_DIR}/locale/${lang}/LC_MESSAGES/ctlmirror.mo)
  add_custom_command(OUTPUT ${mo}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/locale/${lang}/LC_MESSAGES
      COMMAND ${MSGFMT} --check -o ${mo} ${PROJECT_SOURCE_DIR}/po/${lang}.po
      DEPENDS ${PROJECT_SOURCE_DIR}/po/${lang}.po
      COMMENT "msgfmt po/${lang}.po")
  list(APPEND mos ${mo})
  install(FILES ${mo} DESTINATION ${CMAKE_INSTALL_LOCALEDIR}/${lang}/LC_MESSAGES)
endforeach()
add_custom_target(translations ALL DEPENDS ${mos})
add_dependencies(ctlmirror translations)

target_compile_definitions(ctlproxy PRIVATE
    CTLMIRROR_LOCALEDIR="${CMAKE_INSTALL_FULL_LOCALEDIR}")
