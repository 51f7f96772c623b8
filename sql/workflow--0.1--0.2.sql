/* workflow--0.1--0.2.sql: from 0.1 to 0.2 (ALTER EXTENSION workflow UPDATE) */

\echo Use "ALTER EXTENSION workflow UPDATE TO '0.2'" to load this file. \quit
