-- One database per service: no service reads another's tables.
CREATE DATABASE erp;
CREATE DATABASE qms;
CREATE DATABASE cmms;
CREATE DATABASE mes;
CREATE DATABASE xref;
CREATE DATABASE quality;
CREATE DATABASE maintenance;
CREATE DATABASE shopfloor;
CREATE DATABASE gateway;
CREATE DATABASE webhooks;
-- Tryton's own database, for the optional `tryton` profile (the ERP API in front of Tryton).
CREATE DATABASE tryton;
-- Experience APIs: only their Idempotency-Key answers, shared by their replicas.
CREATE DATABASE technician;
CREATE DATABASE supplier;
CREATE DATABASE operations;
