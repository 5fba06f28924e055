using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Server.Admin;
using Herald.Server.Notifications;

namespace Herald.Server;

/// <summary>Source-generated JSON for every response body: no reflection on hot paths.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Problem))]
[JsonSerializable(typeof(AcceptedView))]
[JsonSerializable(typeof(NotificationView))]
[JsonSerializable(typeof(NotificationPage))]
[JsonSerializable(typeof(BatchResult))]
[JsonSerializable(typeof(TenantView))]
[JsonSerializable(typeof(Demo.SandboxEndpoints.Endpoints))]
[JsonSerializable(typeof(TenantSettingsView))]
[JsonSerializable(typeof(List<TenantView>))]
[JsonSerializable(typeof(CreateTenantRequest))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(CreatedKeyView))]
[JsonSerializable(typeof(ProviderView))]
[JsonSerializable(typeof(List<ProviderView>))]
public sealed partial class HeraldJson : JsonSerializerContext;
