import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";

/**
 * The slice of Modal's control-plane wire protocol the fake speaks: only the messages and fields
 * the SDK (npm `modal` 0.11.1) sends or reads on the sandbox lifecycle Sandboxer uses.
 *
 * Written for this project, not copied from Modal's proto file. Package, service and method
 * names, field numbers and wire types were read from the SDK's bundled encoders/decoders in
 * node_modules/modal/dist/index.js (e.g. `SandboxListRequest.encode` writes `before_timestamp`
 * as tag 17 = field 2, wire type 1, a double). Fields the fake never reads are left out:
 * protobuf decoders skip unknown fields, so the SDK's extra fields are harmless. Enums are
 * declared as int32 (same varint encoding); the values used are listed in `GenericStatus`.
 */
export const FAKE_PROTO = `
syntax = "proto3";
package modal.client;

message Empty {}

message AuthTokenGetRequest {}
message AuthTokenGetResponse { string token = 1; }

message AppGetOrCreateRequest {
  string app_name = 1;
  string environment_name = 2;
  int32 object_creation_type = 3;
}
message AppGetOrCreateResponse { string app_id = 1; }

message EnvironmentGetOrCreateRequest {
  string deployment_name = 1;
  int32 object_creation_type = 2;
}
message EnvironmentSettings { string image_builder_version = 1; string webhook_suffix = 2; }
message EnvironmentMetadata { string name = 1; EnvironmentSettings settings = 2; }
message EnvironmentGetOrCreateResponse { string environment_id = 1; EnvironmentMetadata metadata = 2; }

message GenericResult {
  int32 status = 1;
  string exception = 2;
  int32 exitcode = 3;
}

message Image { repeated string dockerfile_commands = 6; }
message ImageGetOrCreateRequest {
  Image image = 2;
  string app_id = 4;
  bool force_build = 7;
  string builder_version = 9;
}
message ImageGetOrCreateResponse { string image_id = 1; GenericResult result = 2; }
message ImageJoinStreamingRequest { string image_id = 1; float timeout = 2; string last_entry_id = 3; }
message ImageJoinStreamingResponse { GenericResult result = 1; string entry_id = 3; bool eof = 4; }

message GPUConfig { int32 type = 1; uint32 count = 2; string gpu_type = 4; }
message Resources {
  uint32 memory_mb = 2;
  uint32 milli_cpu = 3;
  GPUConfig gpu_config = 4;
  uint32 memory_mb_max = 5;
  uint32 milli_cpu_max = 7;
}
message SandboxDefinition {
  repeated string entrypoint_args = 1;
  string image_id = 3;
  Resources resources = 5;
  uint32 timeout_secs = 7;
  string name = 30;
  uint32 idle_timeout_secs = 33;
}
message SandboxTag { string tag_name = 1; string tag_value = 2; }
message SandboxHandleMetadata { GenericResult result = 1; string app_id = 2; }

message SandboxCreateRequest {
  string app_id = 1;
  SandboxDefinition definition = 2;
  string environment_name = 3;
  repeated SandboxTag tags = 4;
}
message SandboxCreateResponse { string sandbox_id = 1; SandboxHandleMetadata metadata = 2; }

message SandboxGetTaskIdRequest { string sandbox_id = 1; float timeout = 2; bool wait_until_ready = 3; }
message SandboxGetTaskIdResponse { optional string task_id = 1; GenericResult task_result = 2; }

message SandboxWaitRequest { string sandbox_id = 1; float timeout = 2; }
message SandboxWaitResponse { GenericResult result = 1; SandboxHandleMetadata metadata = 2; }

message SandboxTerminateRequest { string sandbox_id = 1; }
message SandboxTerminateResponse { GenericResult existing_result = 1; }

message SandboxListRequest {
  string app_id = 1;
  double before_timestamp = 2;
  string environment_name = 3;
  bool include_finished = 4;
  repeated SandboxTag tags = 5;
}
message TaskInfo {
  string id = 1;
  double started_at = 2;
  double finished_at = 3;
  GenericResult result = 4;
  double enqueued_at = 5;
}
message SandboxInfo {
  string id = 1;
  double created_at = 3;
  TaskInfo task_info = 4;
  string app_id = 5;
  repeated SandboxTag tags = 6;
  uint32 timeout_secs = 11;
}
message SandboxListResponse { repeated SandboxInfo sandboxes = 1; }

message SandboxTagsSetRequest { string environment_name = 1; string sandbox_id = 2; repeated SandboxTag tags = 3; }
message SandboxTagsGetRequest { string sandbox_id = 1; }
message SandboxTagsGetResponse { repeated SandboxTag tags = 1; }

service ModalClient {
  rpc AuthTokenGet(AuthTokenGetRequest) returns (AuthTokenGetResponse);
  rpc AppGetOrCreate(AppGetOrCreateRequest) returns (AppGetOrCreateResponse);
  rpc EnvironmentGetOrCreate(EnvironmentGetOrCreateRequest) returns (EnvironmentGetOrCreateResponse);
  rpc ImageGetOrCreate(ImageGetOrCreateRequest) returns (ImageGetOrCreateResponse);
  rpc ImageJoinStreaming(ImageJoinStreamingRequest) returns (stream ImageJoinStreamingResponse);
  rpc SandboxCreate(SandboxCreateRequest) returns (SandboxCreateResponse);
  rpc SandboxGetTaskId(SandboxGetTaskIdRequest) returns (SandboxGetTaskIdResponse);
  rpc SandboxWait(SandboxWaitRequest) returns (SandboxWaitResponse);
  rpc SandboxTerminate(SandboxTerminateRequest) returns (SandboxTerminateResponse);
  rpc SandboxList(SandboxListRequest) returns (SandboxListResponse);
  rpc SandboxTagsSet(SandboxTagsSetRequest) returns (Empty);
  rpc SandboxTagsGet(SandboxTagsGetRequest) returns (SandboxTagsGetResponse);
}
`;

/** Values of Modal's GenericResult.status the fake produces (and what the SDK maps them to). */
export const GenericStatus = {
  UNSPECIFIED: 0,
  SUCCESS: 1,
  /** An ordinary exit: the SDK reports `exitcode`. */
  FAILURE: 2,
  /** Terminated: the SDK reports exit code 137. */
  TERMINATED: 3,
  /** Hit its own timeout: the SDK reports exit code 124. */
  TIMEOUT: 4,
} as const;

export const SERVICE_NAME = "modal.client.ModalClient";
export type MethodName =
  | "AuthTokenGet"
  | "AppGetOrCreate"
  | "EnvironmentGetOrCreate"
  | "ImageGetOrCreate"
  | "ImageJoinStreaming"
  | "SandboxCreate"
  | "SandboxGetTaskId"
  | "SandboxWait"
  | "SandboxTerminate"
  | "SandboxList"
  | "SandboxTagsSet"
  | "SandboxTagsGet";

const root = protobuf.parse(FAKE_PROTO, { keepCase: false }).root;
const service = root.lookupService(SERVICE_NAME);

function codec(typeName: string) {
  const type = root.lookupType(typeName);
  return {
    serialize: (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    // Defaults on, so absent scalars read as "", 0 or false the way the SDK's decoders do.
    deserialize: (buf: Buffer) => type.toObject(type.decode(buf), { defaults: true, longs: Number, arrays: true }),
  };
}

/** A @grpc/grpc-js service definition built from the schema above (no code generation). */
export function fakeServiceDefinition(): ServiceDefinition {
  service.resolveAll();
  const def: Record<string, unknown> = {};
  for (const method of service.methodsArray) {
    const req = codec(method.resolvedRequestType!.fullName.slice(1));
    const res = codec(method.resolvedResponseType!.fullName.slice(1));
    def[method.name] = {
      path: `/${SERVICE_NAME}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: method.name,
    };
  }
  return def as ServiceDefinition;
}
