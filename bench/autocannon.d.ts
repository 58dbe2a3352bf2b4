// The slice of autocannon's API the benchmark uses (the package ships no types).
declare module 'autocannon' {
  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    headers?: Record<string, string>;
  }
  interface AutocannonResult {
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  interface AutocannonInstance extends PromiseLike<AutocannonResult> {
    on(
      event: 'response',
      listener: (client: unknown, status: number, bytes: number, responseTime: number) => void,
    ): AutocannonInstance;
  }
  function autocannon(options: AutocannonOptions): AutocannonInstance;
  export default autocannon;
}
