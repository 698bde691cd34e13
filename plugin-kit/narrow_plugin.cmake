# narrow_add_plugin(<name> SOURCES <files...> [LIBRARIES <libs...>] [OUTPUT_DIRECTORY <dir>])
#
# Builds a narrow plugin: a MODULE library with hidden symbols that links the kernel
# (narrow::narrow), finds it at run time through its RPATH, and lands in the plugin folder
# of the build (in-tree) or in OUTPUT_DIRECTORY / the current binary dir (out-of-tree). The
# library and its folder are made writable by their owner only, as narrow requires.
function(narrow_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET narrow_core)
    target_link_libraries(${name} PRIVATE narrow_core ${ARG_LIBRARIES})
  else()
    target_link_libraries(${name} PRIVATE narrow::narrow ${ARG_LIBRARIES})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX "libnarrow_"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED NARROW_BUILD_PLUGIN_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NARROW_BUILD_PLUGIN_DIR})
  endif()
  # narrow refuses a plugin file or folder that its group or other users may write (its code
  # would run on loading); the linker's modes follow the umask, which may be 002.
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND chmod go-w $<TARGET_FILE:${name}> $<TARGET_FILE_DIR:${name}>
    VERBATIM)
  if(TARGET narrow_core)
    # In-tree: find the kernel in the build tree and, once installed, next to the plugin folder.
    set_target_properties(${name} PROPERTIES
      BUILD_RPATH "${CMAKE_LIBRARY_OUTPUT_DIRECTORY}"
      INSTALL_RPATH "$ORIGIN/../..")
    if(NOT ARG_OUTPUT_DIRECTORY)
      install(TARGETS ${name} LIBRARY DESTINATION ${NARROW_PLUGIN_SUBDIR})
    endif()
  else()
    get_target_property(_kernel narrow::narrow LOCATION)
    get_filename_component(_kernel_dir "${_kernel}" DIRECTORY)
    set_target_properties(${name} PROPERTIES BUILD_RPATH "${_kernel_dir}" INSTALL_RPATH "${_kernel_dir}")
  endif()
endfunction()
