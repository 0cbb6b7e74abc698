"""The space-time core: who was near the scenes, who travels together.

* :mod:`.interning` — strings (plates, phones, checkpoint ids) to dense int32 ids;
* :mod:`.checkpoints` — sensor registry in metres with density-adaptive radius queries;
* :mod:`.index` — the time-partitioned, columnar sighting index (numba kernels);
* :mod:`.rarity` — per-entity and per-area background rates, the rarity weight of a hit;
* :mod:`.scene` — scene queries: entities near a scene during its padded window;
* :mod:`.copresence` — candidate case links from entities near several scenes, with
  explanations, and the standing query for late sightings;
* :mod:`.companions` — entities that repeatedly pass the same checkpoints together.
"""
