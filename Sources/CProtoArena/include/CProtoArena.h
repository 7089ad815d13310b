/*
 * A bump allocator with a byte budget, handed to protobuf-c as its ProtobufCAllocator.
 *
 * protobuf-c allocates once per string, bytes field, sub-message, repeated array and unknown field,
 * and never reallocates; freeing is a no-op here and everything goes at once in kk_arena_destroy.
 * The budget turns "a hostile message makes the server allocate without bound" into a clean
 * unpack failure: past the budget, alloc returns NULL and protobuf_c_message_unpack returns NULL.
 */
#ifndef CPROTOARENA_H
#define CPROTOARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct kk_arena_chunk kk_arena_chunk;

typedef struct kk_arena {
    ProtobufCAllocator allocator;  /* alloc/free bound to this arena; pass &arena->allocator */
    unsigned char *cursor;         /* next free byte of the current block */
    size_t remaining;              /* bytes left in the current block */
    kk_arena_chunk *chunks;        /* heap blocks, freed by kk_arena_destroy */
    size_t budget;                 /* most bytes the arena will hand out in total */
    size_t used;                   /* bytes handed out so far (after alignment) */
    int exhausted;                 /* set once a request was refused for the budget */
} kk_arena;

/* Starts an arena over an optional caller-owned first block (may be NULL with size 0). */
void kk_arena_init(kk_arena *arena, void *first_block, size_t first_block_size, size_t budget);

/* Returns 16-byte aligned memory, or NULL past the budget or when the heap is exhausted. */
void *kk_arena_alloc(kk_arena *arena, size_t size);

/* Frees every heap block. The arena may be initialised again afterwards. */
void kk_arena_destroy(kk_arena *arena);

#endif
