"""Model calls in the run's terms: the role's model, the rendered prompt, the replay counter."""

from __future__ import annotations

import secrets
from dataclasses import replace

from graph.context import ROLES, Context
from graph.state import State, run_dir
from prompts import prompt_version, render
from tools.cache import ReplyCache
from tools.llm import Models, Reply
from tools.llm.models import Retries
from tools.llm.openai_client import CallOptions

# Roles whose prose is used as it comes (a summary, a plan, a comparison): an answer cut off at the output
# limit is asked for again, shorter. The coder has its own answer fixes; a judge cut off gives no verdict.
PROSE_ROLES = ("summarizer", "planner", "reporter")
LANGUAGE_NAMES = {"cuda": "CUDA C++", "cpp": "C++ with OpenMP"}
COMPILER_NAMES = {"cuda": "nvcc", "cpp": "g++ -fopenmp"}


def ask(state: State, context: Context, role: str, prompt: str, temperature: float | None,
        task: str = "", about: dict | None = None, cache: ReplyCache | None = None, schema: dict | None = None,
        **values) -> tuple[Reply, dict[str, int]]:
    """Render `prompt`, ask the role's model (or the cache), and return the reply with the call-counter update."""
    language = state["language"]
    call_key = f"{role}/{task}" if task else role
    index = (state.get("llm_calls") or {}).get(call_key, 0)
    models = Models(context.models(), run_dir(state).llm_log, base_urls={r: context.base_url_for(r) for r in ROLES},
                    retries=Retries(context.max_llm_retries, context.llm_backoff_s, context.retry_budget_s),
                    options=CallOptions(context.request_timeout_s, context.max_output_tokens),
                    api_key_env=context.api_key_env, on_wait=_progress_writer())
    system, request = render("system", language_name=LANGUAGE_NAMES[language]), render(prompt, **values)
    tries = 1 + (context.max_answer_fixes if role in PROSE_ROLES else 0)
    for again in range(tries):
        reply = models.ask(role, system, request if not again else f"{request}\n{render('cut_off', limit=context.max_output_tokens)}",
                           temperature, index + again, task=task, cache=cache, schema=schema,
                           about={"prompt_name": prompt, "prompt_version": prompt_version(prompt), "cut_off_retry": again,
                                  **(about or {})})
        if not reply.cut_off:
            break
    else:  # used as it is, but never as if it were whole
        reply = replace(reply, text=f"{reply.text}\n\n(This answer was cut off at the output limit of"
                                    f" {context.max_output_tokens} tokens.)")
    return reply, {call_key: index + again + 1}


def _progress_writer():
    """Words for the run's progress display, through LangGraph's custom stream (none outside a graph run)."""
    from langgraph.config import get_stream_writer

    try:
        write = get_stream_writer()
    except RuntimeError:
        return None
    return lambda text: write({"waiting": text})


def judge_tag() -> str:
    """A marker the code under judgement cannot predict, so it cannot fake the end of its block."""
    return secrets.token_hex(6)
