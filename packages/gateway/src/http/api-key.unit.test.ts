import { describe, expect, it } from "vitest";
import { ApiKey, presentedKey } from "./api-key.js";

describe("the API key a request presents", () => {
  it("is X-API-Key, else Authorization: apikey (any case), else the query's", () => {
    expect(presentedKey({ "x-api-key": " k1 " }, "q")).toBe("k1");
    expect(presentedKey({ authorization: "ApiKey  k2" }, "q")).toBe("k2");
    expect(presentedKey({ authorization: "Bearer k3" }, "q")).toBe("q");
    expect(presentedKey({ "x-api-key": "", authorization: "apikey k4" }, undefined)).toBe("k4");
    expect(presentedKey({}, undefined)).toBeUndefined();
  });

  it("matches only the exact key", () => {
    const key = new ApiKey("0123456789abcdef");
    expect(key.matches("0123456789abcdef")).toBe(true);
    for (const wrong of [undefined, "", "0123456789abcde", "0123456789abcdef ", "0123456789ABCDEF"]) {
      expect(key.matches(wrong)).toBe(false);
    }
  });
});
