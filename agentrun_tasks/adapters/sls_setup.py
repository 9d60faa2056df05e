"""What ``logConfig: auto`` stands for, made on SLS: a project, a logstore and its index.

The devsapp agentrun component turns ``auto`` into the project ``aliyun-serverless-<account>-<region>``
and the logstore ``default-logs`` and creates them before it deploys (``src/impl/sls.ts``); the
openapi driver does the same here, so a runtime deployed from the same s.yaml logs to the same
place. Each step accepts "already exists": a rerun, or a project the component made, is fine;
and each waits, under the retry policy, for what the step before made to be served (SLS answers
"does not exist" for a moment after a create). The index makes the logstore searchable
(``invoke logs`` reads it with GetLogsV2).
"""

from __future__ import annotations

from .sls_client import SlsProject

TTL_DAYS = 30
SHARDS = 2
# SLS's default full-text delimiters.
TOKENS = list(", '\";=()[]{}?@&<>/:\n\t\r")


def ensure_logstore(sls: SlsProject, logstore: str, *, description: str) -> None:
    """Create ``sls.project``, its ``logstore`` and a full-text index, each unless it exists."""
    from alibabacloud_sls20201230 import models

    project = sls.project
    sls.call(f"creating SLS project {project}", lambda client, options: client.create_project_with_options(
        models.CreateProjectRequest(project_name=project, description=description), {}, options),
        accept=("ProjectAlreadyExist",))
    sls.call(f"creating logstore {logstore} in SLS project {project}",
             lambda client, options: client.create_log_store_with_options(
                 project, models.CreateLogStoreRequest(logstore_name=logstore, ttl=TTL_DAYS, shard_count=SHARDS),
                 {}, options),
             accept=("LogStoreAlreadyExist",), wait_for=("ProjectNotExist",))
    index = models.Index(line=models.IndexLine(token=TOKENS, case_sensitive=False, chn=True))
    sls.call(f"indexing logstore {logstore} of SLS project {project}",
             lambda client, options: client.create_index_with_options(
                 project, logstore, models.CreateIndexRequest(body=index), {}, options),
             accept=("IndexAlreadyExist",), wait_for=("LogStoreNotExist",))
