"""What the app's Prisma schema must declare so `prisma migrate dev` sees no drift.

* `fields`: the columns districtbench adds to the app's tables, as Prisma field lines in
  `model District { … }` blocks (`districtbench prisma`);
* `schema_file`: a small parser of a schema.prisma's model blocks;
* `check`: the app's schema file against those fields (`districtbench prisma --check`).
"""
