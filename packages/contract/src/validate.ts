/**
 * Compiled runtime checks for the schemas, with error messages that name the field:
 * `heartbeats[3].user: must be a string of 1 to 128 UTF-8 bytes …`, `user is required`,
 * `unknown field "foo"`.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { echo } from "./limits.js";

export interface Validator<T> {
  /** True when `value` matches the schema. */
  check(value: unknown): value is T;
  /**
   * A message naming the first problem with `value`, or undefined when it matches. Field names
   * are relative to the request params, or below `at` (e.g. `cmds[3]`) when given.
   */
  explain(value: unknown, at?: string): string | undefined;
}

/** `/heartbeats/3/user` → `heartbeats[3].user` (below `at` when given). */
function fieldName(pointer: string, at = ""): string {
  let out = at;
  for (const raw of pointer.split("/").slice(1)) {
    const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}

/** The error that says most: a missing or unknown field says more than the type error it causes. */
function pick(errors: readonly ValueError[]): ValueError | undefined {
  return (
    errors.find(
      (e) =>
        e.type === ValueErrorType.ObjectRequiredProperty ||
        e.type === ValueErrorType.ObjectAdditionalProperties,
    ) ?? errors[0]
  );
}

/**
 * For a union of objects told apart by their `type` (commands, events): the errors of the one
 * variant whose `type` the value has, or undefined when that is not exactly one variant.
 */
function variantErrors(error: ValueError): ValueError[] | undefined {
  const discriminator = `${error.path}/type`;
  let found: ValueError[] | undefined;
  for (const variant of error.errors) {
    const errors = [...variant];
    if (errors.length === 0 || errors.some((e) => e.path === discriminator)) continue;
    if (found !== undefined) return undefined;
    found = errors;
  }
  return found;
}

function describe(error: ValueError, at: string | undefined): string {
  const field = fieldName(error.path, at);
  const whole = at ?? "params";
  const custom = (error.schema as { errorMessage?: unknown }).errorMessage;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `${field} is required`;
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown field ${JSON.stringify(echo(field))}`;
    case ValueErrorType.Object:
      if (error.path === "") return `${whole} must be a JSON object`;
      break;
    case ValueErrorType.Union: {
      const inner = typeof custom === "string" ? undefined : variantErrors(error);
      const first = inner === undefined ? undefined : pick(inner);
      if (first !== undefined) return describe(first, at);
      break;
    }
  }
  const what = typeof custom === "string" ? custom : error.message.replace(/^Expected/, "must be");
  return error.path === "" ? `${whole} ${what}` : `${field}: ${what}`;
}

/** Compiles `schema` once; the checks are then plain generated functions. */
export function compile<T extends TSchema>(schema: T): Validator<Static<T>> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (value): value is Static<T> => compiled.Check(value),
    explain(value, at) {
      if (compiled.Check(value)) return undefined;
      const first = pick([...compiled.Errors(value)]);
      return first === undefined ? `${at ?? "params"} are invalid` : describe(first, at);
    },
  };
}
