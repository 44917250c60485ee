/* sim_rhv.c - replaced by the rhv platform; registers nothing yet. */
#include "sim.h"

void sim_rhv_register(struct sim *sim)
{
	(void)sim;
}
