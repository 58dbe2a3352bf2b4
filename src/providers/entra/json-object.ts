// Entra's and Graph's answers are JSON objects; anything else is refused rather than guessed at.

export async function readJsonObject(response: Response): Promise<Record<string, unknown>> {
  const body: unknown = JSON.parse(await response.text());
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error('response is not a JSON object');
  }
  return body as Record<string, unknown>;
}
