# MP_SANITIZE=address,undefined or thread: instrument every target of the build.
if(MP_SANITIZE)
  set(_mp_san_flags -fsanitize=${MP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_mp_san_flags})
  add_link_options(${_mp_san_flags})
endif()
