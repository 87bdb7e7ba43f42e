"""bench/http/fastapi_peer.py — the comparison peer of bench/http/run.sh: the
feature service MLOps tutorials teach, FastAPI + redis-py, one Redis hash
per entity (peer:<id> with fields f0..f9) read with HMGET (a pipeline for a
batch), answered in the Feast shape featd gives (join key first, bare
names, statuses). Run by uvicorn with 2 workers:

    PEER_REDIS_PORT=6379 uvicorn --app-dir bench/http fastapi_peer:app --workers 2
"""
import os
from typing import Any, Dict, List

import redis
from fastapi import FastAPI
from pydantic import BaseModel

pool = redis.ConnectionPool(host="127.0.0.1", port=int(os.environ.get("PEER_REDIS_PORT", "6379")))
r = redis.Redis(connection_pool=pool)
app = FastAPI()


class Lookup(BaseModel):
    features: List[str]
    entities: Dict[str, List[Any]]
    full_feature_names: bool = False


@app.post("/get-online-features")
def get_online_features(req: Lookup) -> Dict[str, Any]:
    (key, ids), = req.entities.items()
    fields = [f.split(":", 1)[1] for f in req.features]
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(f"peer:{i}", fields)
    rows = pipe.execute()
    results = [{"values": ids, "statuses": ["PRESENT"] * len(ids),
                "event_timestamps": ["1970-01-01T00:00:00Z"] * len(ids)}]
    for n, _ in enumerate(fields):
        vals = [None if row[n] is None else float(row[n]) for row in rows]
        results.append({"values": vals,
                        "statuses": ["NOT_FOUND" if v is None else "PRESENT" for v in vals],
                        "event_timestamps": ["2025-11-21T10:00:00Z"] * len(ids)})
    return {"metadata": {"feature_names": [key] + fields}, "results": results}
