"""Prompt templates (one Markdown file per prompt) and the renderer that fills them."""

from prompts.render import prompt_version, render

__all__ = ["render", "prompt_version"]
