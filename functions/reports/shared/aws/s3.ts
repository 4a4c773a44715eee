// The region's report bucket. Objects are encrypted by the bucket's default encryption (the
// region's CMK), so no key travels with the request.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { awsErrorName, toPortError } from "../../../dr/shared/aws/errors";
import type { ReportStore } from "../ports";

export class S3ReportStore implements ReportStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(
    key: string,
    body: string,
    contentType: string,
    options: { readonly ifAbsent?: boolean } = {},
  ): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          // S3 conditional write: refused with 412 when the key exists (S3 User Guide,
          // "Add preconditions to S3 operations with conditional requests").
          ...(options.ifAbsent ? { IfNoneMatch: "*" } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (options.ifAbsent && awsErrorName(error) === "PreconditionFailed") return false;
      throw toPortError(`s3:PutObject ${key}`, error);
    }
  }
}
