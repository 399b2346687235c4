// Gets credentials with one AWS SDK for JavaScript v3 provider and calls
// STS GetCallerIdentity with them (stsd's internal/e2e tests run it).
//
//   node clients.mjs imds|container|chain
//
// Prints one JSON line: the key id, expiration, account and ARN. Never a
// secret. AWS_ENDPOINT_URL_STS points the STS client at the stand-in.
import {
  fromContainerMetadata,
  fromInstanceMetadata,
  fromNodeProviderChain,
} from "@aws-sdk/credential-providers";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const providers = {
  imds: () => fromInstanceMetadata({ timeout: 2000, maxRetries: 1 }),
  container: () => fromContainerMetadata({ timeout: 2000, maxRetries: 1 }),
  chain: () => fromNodeProviderChain(),
};

const mode = process.argv[2];
if (!providers[mode]) {
  console.error(`usage: node clients.mjs ${Object.keys(providers).join("|")}`);
  process.exit(2);
}
try {
  const creds = await providers[mode]()();
  const sts = new STSClient({
    region: process.env.AWS_REGION || "us-east-1",
    credentials: creds,
  });
  const id = await sts.send(new GetCallerIdentityCommand({}));
  console.log(
    JSON.stringify({
      accessKeyId: creds.accessKeyId,
      expiration: creds.expiration ? creds.expiration.toISOString() : null,
      account: id.Account,
      arn: id.Arn,
    }),
  );
} catch (err) {
  console.error(`${mode}: ${err.name}: ${err.message}`);
  process.exit(1);
}
