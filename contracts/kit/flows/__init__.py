"""Durable process flows: stored instances and steps, retried with idempotency keys, visible.

A process API declares its flows as ordered steps (`FlowType`), starts them from event
handlers or its API (`start`, in the caller's transaction), and runs a `FlowRunner`. Each step
runs outside any database transaction, calls system APIs with the key `<flow id>:<step>`, and
its result is committed before the next step starts; so a crash or restart resumes at the first
unfinished step, and a repeated call is answered from the upstream's idempotency record.

A flow that stalls and was started by an event is dead-lettered with that event (given the
runner a Redis), and the event's inbox row goes, so replaying the letter runs the handler again;
`start` then finds the stalled flow by its trigger and resumes it. Handlers that start flows are
therefore safe to run twice, which `start`'s trigger makes them.
"""

from contracts.kit.flows.engine import FlowContext, FlowRunner, FlowType, Step, StepFailed, cancel, start
from contracts.kit.flows.store import FlowStatus, flow_metadata

__all__ = [
    "FlowContext",
    "FlowRunner",
    "FlowStatus",
    "FlowType",
    "Step",
    "StepFailed",
    "cancel",
    "flow_metadata",
    "start",
]
