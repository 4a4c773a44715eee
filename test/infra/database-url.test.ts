// db:migrate's check of DATABASE_URL: a malformed URL is refused with a sentence naming the
// variable (password hidden) and what is expected, before any connection is tried.
import { checkDatabaseUrl, redactUrl } from "../../scripts/migrate";
import { parsePort } from "../../scripts/db-local";

describe("DATABASE_URL for db:migrate", () => {
  it("accepts postgres:// and postgresql:// URLs with a host and a database", () => {
    for (const url of [
      "postgres://postgres:pw@127.0.0.1:54329/payments",
      "postgresql://app@db.internal/payments?sslmode=require",
    ]) {
      expect(checkDatabaseUrl(url)).toBe(url);
    }
  });

  it.each([
    [undefined, "DATABASE_URL is not set: start a local database with `npm run db:local`"],
    ["", "DATABASE_URL is not set"],
    [
      "localhost:5432/payments",
      'DATABASE_URL="localhost:5432/payments" must start with postgres:// or postgresql://, got localhost:',
    ],
    ["postgres//u@h/db", 'DATABASE_URL="postgres//u@h/db" is not a URL'],
    [
      "mysql://u:secret@h/db",
      'DATABASE_URL="mysql://u:***@h/db" must start with postgres:// or postgresql://',
    ],
    ["postgres://u:secret@h:5432", 'DATABASE_URL="postgres://u:***@h:5432" names no database'],
    ["postgres:///payments", 'DATABASE_URL="postgres:///payments" has no host'],
  ])("rejects %j, saying why", (value, message) => {
    expect(() => checkDatabaseUrl(value)).toThrow(message);
    if (value?.includes("secret")) expect(() => checkDatabaseUrl(value)).not.toThrow(/secret/);
  });

  it("hides the password in what it prints", () => {
    expect(redactUrl("postgres://u:p%40ss@h/db")).toBe("postgres://u:***@h/db");
  });
});

describe("db:local --port", () => {
  it("defaults to 54329 and rejects a port it cannot use", () => {
    expect(parsePort([])).toBe(54329);
    expect(parsePort(["--port", "55000"])).toBe(55000);
    expect(() => parsePort(["--port", "80"])).toThrow(
      '--port must be a whole number from 1024 to 65535, got "80"',
    );
    expect(() => parsePort(["--port"])).toThrow('got ""');
  });
});
