# mp_warnings: the warning flags every mp target builds with (linked PRIVATE).
add_library(mp_warnings INTERFACE)
target_compile_options(mp_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<BOOL:${MP_WERROR}>:-Werror>)
