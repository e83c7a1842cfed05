"""The shop-floor connector: machines over OPC UA and MQTT (Sparkplug B, plain JSON) drive MES
equipment state, downtime and counted quantities (DESIGN.md §9, "Signals from machines")."""
