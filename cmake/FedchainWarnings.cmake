# Warnings for fedchain's own targets (not third-party code): fedchain_set_warnings(target).
function(fedchain_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                              -Wold-style-cast -Wcast-align -Woverloaded-virtual
                              -Wnull-dereference -Wimplicit-fallthrough>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${FEDCHAIN_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${FEDCHAIN_WERROR}>>:--Werror=all-warnings>)
endfunction()
