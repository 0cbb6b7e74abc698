"""Every Cypher statement the Neo4j store runs, as literal constants (Neo4j 5 syntax).

One statement per label or relationship type and operation, so each can be
read, reviewed and parsed on its own (``tests/graph/test_store_cypher.py``
parses every constant with a real openCypher parser). Data only ever travels
as parameters (``$rows``, ``$keys``, ``$key`` ...): nothing is spliced into a
statement at run time. Labels and types cannot be parameters in Cypher, which
is why there is one constant per label/type instead of a template.

Row parameters, as :class:`~graph.store.neo4jstore.Neo4jStore` builds them:

* node merge: ``$rows = [{key, props}]``;
* relationship merge/delete: ``$rows = [{src, dst, <identity properties>, props}]``;
* node delete: ``$keys = [key]``.

Relationship merges ``MATCH`` both end nodes and return how many rows they
wrote, so a row naming a missing node is detected (and its transaction rolled
back) instead of vanishing silently.
"""

from __future__ import annotations

__all__ = [
    "CONSTRAINTS",
    "INDEXES",
    "LINKS_OF_CASE",
    "NODE_CLEAR",
    "NODE_COUNT",
    "NODE_DELETE",
    "NODE_GET",
    "NODE_MERGE",
    "NODE_NEIGHBOURS",
    "REL_COUNT",
    "REL_DELETE",
    "REL_MERGE",
    "SERIES_MEMBERS",
    "SNAPSHOT_NODES",
    "SNAPSHOT_RELATIONSHIPS",
    "STATEMENTS",
]

# -- schema: one uniqueness constraint per label, a few lookup indexes ---------------

CONSTRAINT_CASE = (
    "CREATE CONSTRAINT icc_case_key IF NOT EXISTS FOR (n:Case) REQUIRE n.case_id IS UNIQUE"
)
CONSTRAINT_PERSON = (
    "CREATE CONSTRAINT icc_person_key IF NOT EXISTS FOR (n:Person) REQUIRE n.person_id IS UNIQUE"
)
CONSTRAINT_MENTION = (
    "CREATE CONSTRAINT icc_mention_key IF NOT EXISTS FOR (n:Mention) REQUIRE n.mention_id IS UNIQUE"
)
CONSTRAINT_VEHICLE = (
    "CREATE CONSTRAINT icc_vehicle_key IF NOT EXISTS FOR (n:Vehicle) REQUIRE n.plate IS UNIQUE"
)
CONSTRAINT_PHONE = (
    "CREATE CONSTRAINT icc_phone_key IF NOT EXISTS FOR (n:Phone) REQUIRE n.number IS UNIQUE"
)
CONSTRAINT_MAC = "CREATE CONSTRAINT icc_mac_key IF NOT EXISTS FOR (n:Mac) REQUIRE n.mac IS UNIQUE"
CONSTRAINT_ORGANISATION = (
    "CREATE CONSTRAINT icc_organisation_key IF NOT EXISTS "
    "FOR (n:Organisation) REQUIRE n.org_id IS UNIQUE"
)
CONSTRAINT_CHECKPOINT = (
    "CREATE CONSTRAINT icc_checkpoint_key IF NOT EXISTS "
    "FOR (n:Checkpoint) REQUIRE n.checkpoint_id IS UNIQUE"
)
CONSTRAINT_JURISDICTION = (
    "CREATE CONSTRAINT icc_jurisdiction_key IF NOT EXISTS "
    "FOR (n:Jurisdiction) REQUIRE n.adcode IS UNIQUE"
)
CONSTRAINT_SERIES = (
    "CREATE CONSTRAINT icc_series_key IF NOT EXISTS FOR (n:Series) REQUIRE n.series_id IS UNIQUE"
)
INDEX_CASE_COUNTY = "CREATE INDEX icc_case_county IF NOT EXISTS FOR (n:Case) ON (n.county)"
INDEX_CASE_CATEGORY = "CREATE INDEX icc_case_category IF NOT EXISTS FOR (n:Case) ON (n.category)"
INDEX_MENTION_CASE = "CREATE INDEX icc_mention_case IF NOT EXISTS FOR (n:Mention) ON (n.case_id)"
INDEX_LINKED_PROBABILITY = (
    "CREATE INDEX icc_linked_probability IF NOT EXISTS FOR ()-[r:LINKED]-() ON (r.probability)"
)

# -- Case (case_id) -----------------------------------------------------------
MERGE_CASE = "UNWIND $rows AS row MERGE (n:Case {case_id: row.key}) SET n += row.props"
DELETE_CASE = (
    "UNWIND $keys AS key MATCH (n:Case {case_id: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_CASE = "MATCH (n:Case {case_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_CASE = (
    "MATCH (n:Case {case_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_CASE = "MATCH (n:Case) RETURN count(n) AS n"
CLEAR_CASE = "MATCH (n:Case) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Person (person_id) -------------------------------------------------------
MERGE_PERSON = "UNWIND $rows AS row MERGE (n:Person {person_id: row.key}) SET n += row.props"
DELETE_PERSON = (
    "UNWIND $keys AS key MATCH (n:Person {person_id: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_PERSON = "MATCH (n:Person {person_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_PERSON = (
    "MATCH (n:Person {person_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_PERSON = "MATCH (n:Person) RETURN count(n) AS n"
CLEAR_PERSON = "MATCH (n:Person) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Mention (mention_id) -----------------------------------------------------
MERGE_MENTION = "UNWIND $rows AS row MERGE (n:Mention {mention_id: row.key}) SET n += row.props"
DELETE_MENTION = (
    "UNWIND $keys AS key MATCH (n:Mention {mention_id: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_MENTION = "MATCH (n:Mention {mention_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_MENTION = (
    "MATCH (n:Mention {mention_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_MENTION = "MATCH (n:Mention) RETURN count(n) AS n"
CLEAR_MENTION = "MATCH (n:Mention) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Vehicle (plate) ----------------------------------------------------------
MERGE_VEHICLE = "UNWIND $rows AS row MERGE (n:Vehicle {plate: row.key}) SET n += row.props"
DELETE_VEHICLE = (
    "UNWIND $keys AS key MATCH (n:Vehicle {plate: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_VEHICLE = "MATCH (n:Vehicle {plate: $key}) RETURN properties(n) AS props"
NEIGHBOURS_VEHICLE = (
    "MATCH (n:Vehicle {plate: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_VEHICLE = "MATCH (n:Vehicle) RETURN count(n) AS n"
CLEAR_VEHICLE = "MATCH (n:Vehicle) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Phone (number) -----------------------------------------------------------
MERGE_PHONE = "UNWIND $rows AS row MERGE (n:Phone {number: row.key}) SET n += row.props"
DELETE_PHONE = (
    "UNWIND $keys AS key MATCH (n:Phone {number: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_PHONE = "MATCH (n:Phone {number: $key}) RETURN properties(n) AS props"
NEIGHBOURS_PHONE = (
    "MATCH (n:Phone {number: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_PHONE = "MATCH (n:Phone) RETURN count(n) AS n"
CLEAR_PHONE = "MATCH (n:Phone) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Mac (mac) ----------------------------------------------------------------
MERGE_MAC = "UNWIND $rows AS row MERGE (n:Mac {mac: row.key}) SET n += row.props"
DELETE_MAC = "UNWIND $keys AS key MATCH (n:Mac {mac: key}) DETACH DELETE n RETURN count(*) AS n"
GET_MAC = "MATCH (n:Mac {mac: $key}) RETURN properties(n) AS props"
NEIGHBOURS_MAC = (
    "MATCH (n:Mac {mac: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_MAC = "MATCH (n:Mac) RETURN count(n) AS n"
CLEAR_MAC = "MATCH (n:Mac) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Organisation (org_id) ----------------------------------------------------
MERGE_ORGANISATION = (
    "UNWIND $rows AS row MERGE (n:Organisation {org_id: row.key}) SET n += row.props"
)
DELETE_ORGANISATION = (
    "UNWIND $keys AS key MATCH (n:Organisation {org_id: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_ORGANISATION = "MATCH (n:Organisation {org_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_ORGANISATION = (
    "MATCH (n:Organisation {org_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_ORGANISATION = "MATCH (n:Organisation) RETURN count(n) AS n"
CLEAR_ORGANISATION = (
    "MATCH (n:Organisation) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"
)

# -- Checkpoint (checkpoint_id) -----------------------------------------------
MERGE_CHECKPOINT = (
    "UNWIND $rows AS row MERGE (n:Checkpoint {checkpoint_id: row.key}) SET n += row.props"
)
DELETE_CHECKPOINT = "UNWIND $keys AS key MATCH (n:Checkpoint {checkpoint_id: key}) DETACH DELETE n RETURN count(*) AS n"
GET_CHECKPOINT = "MATCH (n:Checkpoint {checkpoint_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_CHECKPOINT = (
    "MATCH (n:Checkpoint {checkpoint_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_CHECKPOINT = "MATCH (n:Checkpoint) RETURN count(n) AS n"
CLEAR_CHECKPOINT = "MATCH (n:Checkpoint) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- Jurisdiction (adcode) ----------------------------------------------------
MERGE_JURISDICTION = (
    "UNWIND $rows AS row MERGE (n:Jurisdiction {adcode: row.key}) SET n += row.props"
)
DELETE_JURISDICTION = (
    "UNWIND $keys AS key MATCH (n:Jurisdiction {adcode: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_JURISDICTION = "MATCH (n:Jurisdiction {adcode: $key}) RETURN properties(n) AS props"
NEIGHBOURS_JURISDICTION = (
    "MATCH (n:Jurisdiction {adcode: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_JURISDICTION = "MATCH (n:Jurisdiction) RETURN count(n) AS n"
CLEAR_JURISDICTION = (
    "MATCH (n:Jurisdiction) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"
)

# -- Series (series_id) -------------------------------------------------------
MERGE_SERIES = "UNWIND $rows AS row MERGE (n:Series {series_id: row.key}) SET n += row.props"
DELETE_SERIES = (
    "UNWIND $keys AS key MATCH (n:Series {series_id: key}) DETACH DELETE n RETURN count(*) AS n"
)
GET_SERIES = "MATCH (n:Series {series_id: $key}) RETURN properties(n) AS props"
NEIGHBOURS_SERIES = (
    "MATCH (n:Series {series_id: $key})-[r]-(m) "
    "WHERE ($type IS NULL OR type(r) = $type) "
    "AND ($direction = 'both' OR ($direction = 'out') = (startNode(r) = n)) "
    "RETURN type(r) AS type, startNode(r) = n AS outgoing, labels(m) AS labels, "
    "properties(m) AS node, properties(r) AS props"
)
COUNT_SERIES = "MATCH (n:Series) RETURN count(n) AS n"
CLEAR_SERIES = "MATCH (n:Series) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS n"

# -- INVOLVED_IN: (Person|Vehicle|Organisation)-[:INVOLVED_IN]->(Case) ----------
MERGE_REL_INVOLVED_IN_PERSON = (
    "UNWIND $rows AS row MATCH (a:Person {person_id: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:INVOLVED_IN {role: row.role}]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_INVOLVED_IN_PERSON = (
    "UNWIND $rows AS row "
    "MATCH (a:Person {person_id: row.src})-[r:INVOLVED_IN {role: row.role}]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
MERGE_REL_INVOLVED_IN_VEHICLE = (
    "UNWIND $rows AS row MATCH (a:Vehicle {plate: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:INVOLVED_IN {role: row.role}]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_INVOLVED_IN_VEHICLE = (
    "UNWIND $rows AS row "
    "MATCH (a:Vehicle {plate: row.src})-[r:INVOLVED_IN {role: row.role}]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
MERGE_REL_INVOLVED_IN_ORGANISATION = (
    "UNWIND $rows AS row MATCH (a:Organisation {org_id: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:INVOLVED_IN {role: row.role}]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_INVOLVED_IN_ORGANISATION = (
    "UNWIND $rows AS row "
    "MATCH (a:Organisation {org_id: row.src})-[r:INVOLVED_IN {role: row.role}]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_INVOLVED_IN = "MATCH ()-[r:INVOLVED_IN]->() RETURN count(r) AS n"

# -- SEEN_NEAR: (Vehicle|Phone|Mac)-[:SEEN_NEAR]->(Case) ----------
MERGE_REL_SEEN_NEAR_VEHICLE = (
    "UNWIND $rows AS row MATCH (a:Vehicle {plate: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:SEEN_NEAR]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_SEEN_NEAR_VEHICLE = (
    "UNWIND $rows AS row "
    "MATCH (a:Vehicle {plate: row.src})-[r:SEEN_NEAR]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
MERGE_REL_SEEN_NEAR_PHONE = (
    "UNWIND $rows AS row MATCH (a:Phone {number: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:SEEN_NEAR]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_SEEN_NEAR_PHONE = (
    "UNWIND $rows AS row "
    "MATCH (a:Phone {number: row.src})-[r:SEEN_NEAR]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
MERGE_REL_SEEN_NEAR_MAC = (
    "UNWIND $rows AS row MATCH (a:Mac {mac: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:SEEN_NEAR]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_SEEN_NEAR_MAC = (
    "UNWIND $rows AS row "
    "MATCH (a:Mac {mac: row.src})-[r:SEEN_NEAR]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_SEEN_NEAR = "MATCH ()-[r:SEEN_NEAR]->() RETURN count(r) AS n"

# -- RESOLVED_TO: (Mention)-[:RESOLVED_TO]->(Person) ----------
MERGE_REL_RESOLVED_TO = (
    "UNWIND $rows AS row MATCH (a:Mention {mention_id: row.src}) MATCH (b:Person {person_id: row.dst}) "
    "MERGE (a)-[r:RESOLVED_TO]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_RESOLVED_TO = (
    "UNWIND $rows AS row "
    "MATCH (a:Mention {mention_id: row.src})-[r:RESOLVED_TO]->(b:Person {person_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_RESOLVED_TO = "MATCH ()-[r:RESOLVED_TO]->() RETURN count(r) AS n"

# -- IN: (Case|Checkpoint)-[:IN]->(Jurisdiction) ----------
MERGE_REL_IN_CASE = (
    "UNWIND $rows AS row MATCH (a:Case {case_id: row.src}) MATCH (b:Jurisdiction {adcode: row.dst}) "
    "MERGE (a)-[r:IN]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_IN_CASE = (
    "UNWIND $rows AS row "
    "MATCH (a:Case {case_id: row.src})-[r:IN]->(b:Jurisdiction {adcode: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
MERGE_REL_IN_CHECKPOINT = (
    "UNWIND $rows AS row MATCH (a:Checkpoint {checkpoint_id: row.src}) MATCH (b:Jurisdiction {adcode: row.dst}) "
    "MERGE (a)-[r:IN]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_IN_CHECKPOINT = (
    "UNWIND $rows AS row "
    "MATCH (a:Checkpoint {checkpoint_id: row.src})-[r:IN]->(b:Jurisdiction {adcode: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_IN = "MATCH ()-[r:IN]->() RETURN count(r) AS n"

# -- PART_OF: (Jurisdiction)-[:PART_OF]->(Jurisdiction) ----------
MERGE_REL_PART_OF = (
    "UNWIND $rows AS row MATCH (a:Jurisdiction {adcode: row.src}) MATCH (b:Jurisdiction {adcode: row.dst}) "
    "MERGE (a)-[r:PART_OF]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_PART_OF = (
    "UNWIND $rows AS row "
    "MATCH (a:Jurisdiction {adcode: row.src})-[r:PART_OF]->(b:Jurisdiction {adcode: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_PART_OF = "MATCH ()-[r:PART_OF]->() RETURN count(r) AS n"

# -- LINKED: (Case)-[:LINKED]->(Case) ----------
MERGE_REL_LINKED = (
    "UNWIND $rows AS row MATCH (a:Case {case_id: row.src}) MATCH (b:Case {case_id: row.dst}) "
    "MERGE (a)-[r:LINKED]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_LINKED = (
    "UNWIND $rows AS row "
    "MATCH (a:Case {case_id: row.src})-[r:LINKED]->(b:Case {case_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_LINKED = "MATCH ()-[r:LINKED]->() RETURN count(r) AS n"

# -- MEMBER_OF: (Case)-[:MEMBER_OF]->(Series) ----------
MERGE_REL_MEMBER_OF = (
    "UNWIND $rows AS row MATCH (a:Case {case_id: row.src}) MATCH (b:Series {series_id: row.dst}) "
    "MERGE (a)-[r:MEMBER_OF]->(b) SET r += row.props RETURN count(r) AS n"
)
DELETE_REL_MEMBER_OF = (
    "UNWIND $rows AS row "
    "MATCH (a:Case {case_id: row.src})-[r:MEMBER_OF]->(b:Series {series_id: row.dst}) "
    "DELETE r RETURN count(*) AS n"
)
COUNT_REL_MEMBER_OF = "MATCH ()-[r:MEMBER_OF]->() RETURN count(r) AS n"

# -- reads the product needs ----------------------------------------------------------
LINKS_OF_CASE = (
    "MATCH (n:Case {case_id: $case_id})-[r:LINKED]-(m:Case) "
    "RETURN m.case_id AS other, r.probability AS probability, properties(r) AS props "
    "ORDER BY probability DESC, other"
)
SERIES_MEMBERS = (
    "MATCH (c:Case)-[:MEMBER_OF]->(:Series {series_id: $series_id}) "
    "RETURN c.case_id AS case_id ORDER BY case_id"
)
SNAPSHOT_NODES = (
    "MATCH (n) WHERE any(label IN labels(n) WHERE label IN $labels) "
    "RETURN labels(n) AS labels, properties(n) AS props"
)
SNAPSHOT_RELATIONSHIPS = (
    "MATCH (a)-[r]->(b) WHERE type(r) IN $types "
    "RETURN type(r) AS type, labels(a) AS src_labels, properties(a) AS src, "
    "labels(b) AS dst_labels, properties(b) AS dst, properties(r) AS props"
)

# -- lookup tables (what the store uses) --------------------------------------------------

CONSTRAINTS: tuple[str, ...] = (
    CONSTRAINT_CASE,
    CONSTRAINT_PERSON,
    CONSTRAINT_MENTION,
    CONSTRAINT_VEHICLE,
    CONSTRAINT_PHONE,
    CONSTRAINT_MAC,
    CONSTRAINT_ORGANISATION,
    CONSTRAINT_CHECKPOINT,
    CONSTRAINT_JURISDICTION,
    CONSTRAINT_SERIES,
)
INDEXES: tuple[str, ...] = (
    INDEX_CASE_COUNTY,
    INDEX_CASE_CATEGORY,
    INDEX_MENTION_CASE,
    INDEX_LINKED_PROBABILITY,
)
NODE_MERGE: dict[str, str] = {
    "Case": MERGE_CASE,
    "Person": MERGE_PERSON,
    "Mention": MERGE_MENTION,
    "Vehicle": MERGE_VEHICLE,
    "Phone": MERGE_PHONE,
    "Mac": MERGE_MAC,
    "Organisation": MERGE_ORGANISATION,
    "Checkpoint": MERGE_CHECKPOINT,
    "Jurisdiction": MERGE_JURISDICTION,
    "Series": MERGE_SERIES,
}
NODE_DELETE: dict[str, str] = {
    "Case": DELETE_CASE,
    "Person": DELETE_PERSON,
    "Mention": DELETE_MENTION,
    "Vehicle": DELETE_VEHICLE,
    "Phone": DELETE_PHONE,
    "Mac": DELETE_MAC,
    "Organisation": DELETE_ORGANISATION,
    "Checkpoint": DELETE_CHECKPOINT,
    "Jurisdiction": DELETE_JURISDICTION,
    "Series": DELETE_SERIES,
}
NODE_GET: dict[str, str] = {
    "Case": GET_CASE,
    "Person": GET_PERSON,
    "Mention": GET_MENTION,
    "Vehicle": GET_VEHICLE,
    "Phone": GET_PHONE,
    "Mac": GET_MAC,
    "Organisation": GET_ORGANISATION,
    "Checkpoint": GET_CHECKPOINT,
    "Jurisdiction": GET_JURISDICTION,
    "Series": GET_SERIES,
}
NODE_NEIGHBOURS: dict[str, str] = {
    "Case": NEIGHBOURS_CASE,
    "Person": NEIGHBOURS_PERSON,
    "Mention": NEIGHBOURS_MENTION,
    "Vehicle": NEIGHBOURS_VEHICLE,
    "Phone": NEIGHBOURS_PHONE,
    "Mac": NEIGHBOURS_MAC,
    "Organisation": NEIGHBOURS_ORGANISATION,
    "Checkpoint": NEIGHBOURS_CHECKPOINT,
    "Jurisdiction": NEIGHBOURS_JURISDICTION,
    "Series": NEIGHBOURS_SERIES,
}
NODE_COUNT: dict[str, str] = {
    "Case": COUNT_CASE,
    "Person": COUNT_PERSON,
    "Mention": COUNT_MENTION,
    "Vehicle": COUNT_VEHICLE,
    "Phone": COUNT_PHONE,
    "Mac": COUNT_MAC,
    "Organisation": COUNT_ORGANISATION,
    "Checkpoint": COUNT_CHECKPOINT,
    "Jurisdiction": COUNT_JURISDICTION,
    "Series": COUNT_SERIES,
}
NODE_CLEAR: dict[str, str] = {
    "Case": CLEAR_CASE,
    "Person": CLEAR_PERSON,
    "Mention": CLEAR_MENTION,
    "Vehicle": CLEAR_VEHICLE,
    "Phone": CLEAR_PHONE,
    "Mac": CLEAR_MAC,
    "Organisation": CLEAR_ORGANISATION,
    "Checkpoint": CLEAR_CHECKPOINT,
    "Jurisdiction": CLEAR_JURISDICTION,
    "Series": CLEAR_SERIES,
}
#: (type, start label, end label) -> statement
REL_MERGE: dict[tuple[str, str, str], str] = {
    ("INVOLVED_IN", "Person", "Case"): MERGE_REL_INVOLVED_IN_PERSON,
    ("INVOLVED_IN", "Vehicle", "Case"): MERGE_REL_INVOLVED_IN_VEHICLE,
    ("INVOLVED_IN", "Organisation", "Case"): MERGE_REL_INVOLVED_IN_ORGANISATION,
    ("SEEN_NEAR", "Vehicle", "Case"): MERGE_REL_SEEN_NEAR_VEHICLE,
    ("SEEN_NEAR", "Phone", "Case"): MERGE_REL_SEEN_NEAR_PHONE,
    ("SEEN_NEAR", "Mac", "Case"): MERGE_REL_SEEN_NEAR_MAC,
    ("RESOLVED_TO", "Mention", "Person"): MERGE_REL_RESOLVED_TO,
    ("IN", "Case", "Jurisdiction"): MERGE_REL_IN_CASE,
    ("IN", "Checkpoint", "Jurisdiction"): MERGE_REL_IN_CHECKPOINT,
    ("PART_OF", "Jurisdiction", "Jurisdiction"): MERGE_REL_PART_OF,
    ("LINKED", "Case", "Case"): MERGE_REL_LINKED,
    ("MEMBER_OF", "Case", "Series"): MERGE_REL_MEMBER_OF,
}
#: (type, start label, end label) -> statement
REL_DELETE: dict[tuple[str, str, str], str] = {
    ("INVOLVED_IN", "Person", "Case"): DELETE_REL_INVOLVED_IN_PERSON,
    ("INVOLVED_IN", "Vehicle", "Case"): DELETE_REL_INVOLVED_IN_VEHICLE,
    ("INVOLVED_IN", "Organisation", "Case"): DELETE_REL_INVOLVED_IN_ORGANISATION,
    ("SEEN_NEAR", "Vehicle", "Case"): DELETE_REL_SEEN_NEAR_VEHICLE,
    ("SEEN_NEAR", "Phone", "Case"): DELETE_REL_SEEN_NEAR_PHONE,
    ("SEEN_NEAR", "Mac", "Case"): DELETE_REL_SEEN_NEAR_MAC,
    ("RESOLVED_TO", "Mention", "Person"): DELETE_REL_RESOLVED_TO,
    ("IN", "Case", "Jurisdiction"): DELETE_REL_IN_CASE,
    ("IN", "Checkpoint", "Jurisdiction"): DELETE_REL_IN_CHECKPOINT,
    ("PART_OF", "Jurisdiction", "Jurisdiction"): DELETE_REL_PART_OF,
    ("LINKED", "Case", "Case"): DELETE_REL_LINKED,
    ("MEMBER_OF", "Case", "Series"): DELETE_REL_MEMBER_OF,
}
REL_COUNT: dict[str, str] = {
    "INVOLVED_IN": COUNT_REL_INVOLVED_IN,
    "SEEN_NEAR": COUNT_REL_SEEN_NEAR,
    "RESOLVED_TO": COUNT_REL_RESOLVED_TO,
    "IN": COUNT_REL_IN,
    "PART_OF": COUNT_REL_PART_OF,
    "LINKED": COUNT_REL_LINKED,
    "MEMBER_OF": COUNT_REL_MEMBER_OF,
}

#: every statement constant of this module by name (what the parser test walks)
STATEMENTS: dict[str, str] = {
    name: value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str)
}
