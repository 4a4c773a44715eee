// asl-validator 4 ships no types.
declare module "asl-validator" {
  interface AslValidatorError {
    readonly "Error code": string;
    readonly Message: string;
    readonly [key: string]: unknown;
  }
  function aslValidator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): { isValid: boolean; errors: AslValidatorError[]; errorsText(separator?: string): string };
  export = aslValidator;
}
