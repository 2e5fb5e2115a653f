/* kvmap: see kvmap.h. */
#include "common/kvmap.h"

#include <stdlib.h>
#include <strings.h>

void kvmap_dispose(struct kvmap *map)
{
	if (map == NULL)
		return;
	free(map->kv);
	map->kv = NULL;
	map->n = 0;
}

const char *kvmap_get(const struct kvmap *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->kv[i].key != NULL && strcasecmp(map->kv[i].key, key) == 0)
			return map->kv[i].value ? map->kv[i].value : "";
	return NULL;
}
