#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H
#include <stdint.h>
// Number of malloc, calloc, realloc and posix_memalign/aligned_alloc calls made
// by the whole process (librdkafka's threads included) since it started.
uint64_t allocation_counter_total(void);
#endif
