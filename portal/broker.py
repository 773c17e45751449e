"""Celery broker transports, hardened where kombu's own lose a worker or a message.

Redis: a worker survives losing Redis while it holds unacked tasks. With kombu 5.7, when a worker's
connection to Redis breaks, Celery first collects the connection (which
detaches its transport) and then closes it. Closing the channel restores the unacknowledged messages
(acks_late: the running and prefetched tasks) through that detached transport, which raises
AttributeError ('NoneType' object has no attribute 'hostname'); that is not a connection error, so the
worker dies with "Unrecoverable error" instead of reconnecting. The same happens when a task that was
running at that moment finishes after the worker reconnected: its ack goes to the old, closed channel.
Both were seen in tests/clusters/provisioning/test_redis_outage.py whenever Redis went away mid-task.

Here the restore, ack and reject are skipped when the channel's transport is detached: there is no Redis
to reach through it. The messages stay in Redis's unacked set and go back to the queue after the visibility timeout, or were lost
with Redis; either way beat re-dispatches the work (reconcile) and the notifications.

File system (`make run`): kombu writes a message file in place, so the worker can pick up a file that is
still empty and dies with "Unrecoverable error: JSONDecodeError" (seen in tests/system/test_sqlite_burst.py).
Here a message is written under a name the worker ignores and renamed into place when complete.
"""

from __future__ import annotations

import logging
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def _detached(self) -> bool:
        transport = self.channel.connection
        return transport is None or transport.client is None

    def restore_unacked(self, client=None):
        if client is None and self._detached():
            logger.warning(
                "broker connection lost: unacknowledged messages not restored now: %d (they return "
                "after the visibility timeout; lost work is re-dispatched by beat)",
                len(self._delivered),
            )
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag):
        if self._detached():
            # A task that finished after its connection was lost: its ack has nowhere to go (the message
            # comes back after the visibility timeout, and the task is idempotent).
            logger.warning("broker connection lost: ack of a finished task dropped")
            virtual.QoS.ack(self, delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._detached():
            logger.warning("broker connection lost: reject of a task dropped")
            virtual.QoS.ack(self, delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel


class FileSystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's name (time-ordered, unique); the worker only takes files ending in ".<queue>.msg".
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        try:
            with open(path + ".partial", "wb") as partial:
                partial.write(str_to_bytes(dumps(payload)))
            os.replace(path + ".partial", path)  # atomic: the worker sees all of the message or nothing
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc


class FileSystemTransport(filesystem.Transport):
    Channel = FileSystemChannel
