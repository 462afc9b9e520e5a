# bpf_skeleton(<name> <source.bpf.c>)
#   clang -target bpf  ->  <name>.bpf.o  ->  bpftool gen skeleton  ->  skel/<name>.skel.h
# and an INTERFACE target <name>_skel that C++ targets link to get the header (and the build
# order). BPF C is compiled against the UAPI headers only (no vmlinux.h from the build host), so
# the objects load on every kernel we support.
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(BPF_CFLAGS
    -target bpf -mcpu=v3 -O2 -g
    -Wall -Wextra
    -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/maps
    # Debian puts asm/ under the multiarch directory, which -target bpf does not search.
    -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})

if(XI_WERROR)
    list(APPEND BPF_CFLAGS -Werror)
endif()

set(BPF_SKEL_DIR ${CMAKE_BINARY_DIR}/skel)
file(MAKE_DIRECTORY ${BPF_SKEL_DIR})

function(bpf_skeleton name src)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
    set(skel ${BPF_SKEL_DIR}/${name}.skel.h)
    add_custom_command(
        OUTPUT ${obj}
        COMMAND ${BPF_CLANG} ${BPF_CFLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
        DEPENDS ${src}
        DEPFILE ${obj}.d
        COMMENT "BPF ${name}.bpf.o"
        VERBATIM)
    add_custom_command(
        OUTPUT ${skel}
        COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
        DEPENDS ${obj}
        COMMENT "skeleton ${name}.skel.h"
        VERBATIM)
    add_custom_target(${name}_skel_gen DEPENDS ${skel})
    add_library(${name}_skel INTERFACE)
    add_dependencies(${name}_skel ${name}_skel_gen)
    target_include_directories(${name}_skel INTERFACE ${BPF_SKEL_DIR})
    set_property(GLOBAL APPEND PROPERTY XI_BPF_OBJECTS ${obj})
endfunction()
