import { ConflictError, InvalidParamsError, json } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { errorReply, headerSafe, resultBody } from "./replies.js";

describe("replies", () => {
  it("wraps a result", () => {
    expect(json.decode(resultBody({}))).toEqual({ result: {} });
    expect(json.decode(resultBody({ present: true }))).toEqual({ result: { present: true } });
  });

  it("gives an error its code, body and a one-line header message", () => {
    const reply = errorReply(new InvalidParamsError('body is not valid JSON: "{\n\r\u0000x"'));
    expect(reply.code).toBe(400);
    expect(reply.description).toBe('body is not valid JSON: "{   x"');
    expect(json.decode(reply.body)).toEqual({
      error: { code: 400, message: 'body is not valid JSON: "{\n\r\u0000x"' },
    });
    expect(errorReply(new ConflictError("update: é")).description).toBe("update: é");
  });

  it("leaves ordinary text alone", () => {
    expect(headerSafe("users[0]: must be a string")).toBe("users[0]: must be a string");
  });
});
