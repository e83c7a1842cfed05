"""Simulated machines for demos, tests and benchmarks: `plantbridge simulate machines` runs N CNC
machines over OPC UA, Sparkplug B or JSON topics; `plantbridge simulate command` makes one break
down or recover, through the machine's own protocol (an OPC UA method, a Sparkplug DCMD, an MQTT
command topic), as an operator's HMI would."""
