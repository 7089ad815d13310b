#include "CProtoArena.h"

#include <stdint.h>
#include <stdlib.h>

struct kk_arena_chunk {
    kk_arena_chunk *next;
    size_t size;
};

#define KK_ALIGN 16u
#define KK_MIN_CHUNK 4096u
#define KK_HEADER ((sizeof(kk_arena_chunk) + KK_ALIGN - 1) & ~(size_t)(KK_ALIGN - 1))

static size_t kk_round_up(size_t size) {
    return (size + KK_ALIGN - 1) & ~(size_t)(KK_ALIGN - 1);
}

static void *kk_alloc_hook(void *data, size_t size) {
    return kk_arena_alloc((kk_arena *)data, size);
}

static void kk_free_hook(void *data, void *pointer) {
    (void)data;
    (void)pointer; /* released all at once by kk_arena_destroy */
}

void kk_arena_init(kk_arena *arena, void *first_block, size_t first_block_size, size_t budget) {
    arena->allocator.alloc = kk_alloc_hook;
    arena->allocator.free = kk_free_hook;
    arena->allocator.allocator_data = arena;
    arena->chunks = NULL;
    arena->budget = budget;
    arena->used = 0;
    arena->exhausted = 0;
    uintptr_t start = (uintptr_t)first_block;
    uintptr_t aligned = (start + KK_ALIGN - 1) & ~(uintptr_t)(KK_ALIGN - 1);
    if (first_block == NULL || first_block_size < (size_t)(aligned - start)) {
        arena->cursor = NULL;
        arena->remaining = 0;
        return;
    }
    arena->cursor = (unsigned char *)aligned;
    arena->remaining = first_block_size - (size_t)(aligned - start);
}

static int kk_grow(kk_arena *arena, size_t needed) {
    size_t previous = arena->chunks ? arena->chunks->size : KK_MIN_CHUNK / 2;
    size_t size = previous * 2;
    if (size < needed) size = needed;
    if (size > SIZE_MAX - KK_HEADER) return 0;
    kk_arena_chunk *chunk = malloc(KK_HEADER + size);
    if (chunk == NULL) return 0;
    chunk->next = arena->chunks;
    chunk->size = size;
    arena->chunks = chunk;
    arena->cursor = (unsigned char *)chunk + KK_HEADER;
    arena->remaining = size;
    return 1;
}

void *kk_arena_alloc(kk_arena *arena, size_t size) {
    if (size == 0) size = 1;
    if (size > SIZE_MAX - KK_ALIGN) { arena->exhausted = 1; return NULL; }
    size_t rounded = kk_round_up(size);
    if (rounded > arena->budget - arena->used || arena->used > arena->budget) {
        arena->exhausted = 1;
        return NULL;
    }
    if (rounded > arena->remaining && !kk_grow(arena, rounded)) {
        arena->exhausted = 1;
        return NULL;
    }
    void *result = arena->cursor;
    arena->cursor += rounded;
    arena->remaining -= rounded;
    arena->used += rounded;
    return result;
}

void kk_arena_destroy(kk_arena *arena) {
    kk_arena_chunk *chunk = arena->chunks;
    while (chunk != NULL) {
        kk_arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->chunks = NULL;
    arena->cursor = NULL;
    arena->remaining = 0;
}
