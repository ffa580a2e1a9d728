/* Plan files (plan.c): the analysis passes' results, to skip them. */
#ifndef RS_PLAN_H
#define RS_PLAN_H

#include "revops/revops.h"

/* The most bytes a plan takes: its fixed part, and a pipeline (at most 19
 * digits and a comma) per territory. */
#define RS_PLAN_FIXED 1024
#define RS_PLAN_PER_TERRITORY 20

/* Takes g's amount factor and territory pipelines from a plan (the text of
 * a file rs_gen_plan wrote) instead of the passes: g has its territories,
 * not yet its amounts. RS_EDATA for a file that is not an undamaged plan
 * of this version, RS_EUSAGE for a plan of other settings. */
int rs_plan_apply(rs_gen *g, const char *text, size_t len, rs_err *err);

#endif
