/* A small, seedable random generator (xoshiro256**, seeded by splitmix64) with uniform and
 * normal draws: weight initialisation, random test data and, later, augmentation. */
#ifndef RELAGE_CORE_RNG_H
#define RELAGE_CORE_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1). */
double rng_uniform(rng *r);
/* Standard normal (Box-Muller). */
double rng_normal(rng *r);

#endif
