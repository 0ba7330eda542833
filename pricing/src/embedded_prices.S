/* The default price table, pricing/data/prices.json, copied byte for byte into .rodata at build time.
 * .incbin keeps the build fast (no hex conversion of ~250 KB) and exact (no escaping). CMake passes the absolute
 * path as CG_PRICES_JSON_PATH and lists the file in OBJECT_DEPENDS, so editing the JSON rebuilds this object.
 * This file is compiled as ASM, which ccache does not wrap, so a cached object can never hide a changed table.
 * ELF targets only (Linux), like the rest of the build. */
#ifndef CG_PRICES_JSON_PATH
#error "CG_PRICES_JSON_PATH must be the absolute path of pricing/data/prices.json"
#endif

    .section .rodata.cg_pricing_embedded_prices, "a", %progbits
    .balign 16
    .globl cg_pricing_embedded_prices
    .hidden cg_pricing_embedded_prices
    .type cg_pricing_embedded_prices, %object
cg_pricing_embedded_prices:
    .incbin CG_PRICES_JSON_PATH
cg_pricing_embedded_prices_end:
    .byte 0
    .size cg_pricing_embedded_prices, . - cg_pricing_embedded_prices

    .balign 8
    .globl cg_pricing_embedded_prices_size
    .hidden cg_pricing_embedded_prices_size
    .type cg_pricing_embedded_prices_size, %object
cg_pricing_embedded_prices_size:
    .8byte cg_pricing_embedded_prices_end - cg_pricing_embedded_prices
    .size cg_pricing_embedded_prices_size, 8

    /* No executable stack: without this note the linker assumes one is needed. */
    .section .note.GNU-stack, "", %progbits
