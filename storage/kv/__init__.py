from storage.kv.base import KeyValueStore, KeyValueUnavailable
from storage.kv.memory import MemoryStore
from storage.kv.redis import RedisStore

__all__ = ["KeyValueStore", "KeyValueUnavailable", "MemoryStore", "RedisStore"]
