using Herald.Server.Authentication;
using Herald.Server.WebConsole;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Herald.Server.Operations;

/// <summary>
/// Herald's OpenAPI documents: <see cref="Product"/> (<c>/openapi/v1.json</c>, the contract of the console and of every
/// bank's client) and <see cref="Sandbox"/> (<c>/openapi/sandbox.json</c>, the provider simulators' vendor-shaped paths
/// and controls, which are no part of Herald's API). What every operation shares is stated once here, from the
/// endpoint's own metadata, not per endpoint: its security requirement (from its authorization policy), the problem
/// answers that authentication, authorization and the request guard give every request, and one problem schema.
/// Each endpoint states its summary, its operation id and its own problem answers next to its handler (*Api.cs).
/// </summary>
public static class OpenApiDocuments
{
    public const string Product = "v1";
    public const string Sandbox = "sandbox";

    /// <summary>The bearer scheme: a tenant API key or the system admin key as <c>Authorization: Bearer</c>.</summary>
    public const string BearerScheme = "apiKey";

    /// <summary>The console's HttpOnly session cookie (<see cref="ConsoleSessionHandler"/>).</summary>
    public const string SessionScheme = "consoleSession";

    /// <summary>The sandbox's read and control endpoints' key (<see cref="Herald.Sandbox.SandboxControl"/>).</summary>
    public const string SandboxControlScheme = "sandboxControlKey";

    /// <summary>What each tag groups, for the document's tag list.</summary>
    private static readonly (string Name, string Description)[] Tags =
    [
        ("Notifications", "Send notifications one by one or in batches, read their status, route and attempts, search and cancel them."),
        ("Rules", "The tenant's versioned routing rule set: read, replace, history, rollback and a dry run."),
        ("Templates", "Message templates per notification type, channel and language."),
        ("Customers", "Stored customers with contacts and preferences, their conversation, and erasure on request."),
        ("Sources", "The bank's systems that send notifications through an adapter (native JSON, camt.054, mapped JSON, files)."),
        ("Providers", "Provider accounts per channel: credentials, price tables, weights, rate limits, circuits."),
        ("Reports", "Costs and the overview counts the console shows."),
        ("Webhooks", "Signed status webhooks to the bank: subscriptions, deliveries, dead letters and redelivery."),
        ("Keys", "The tenant's API keys."),
        ("Audit", "The tenant's tamper-evident audit trail."),
        ("Retention", "How long the tenant's notifications are kept."),
        ("Admin", "System operations with the admin key: tenants, their keys, settings and the system audit trail."),
        ("Callbacks", "Providers' receipts and inbound messages; each is signed or tokened by the provider, no API key."),
        ("Console", "The operator console's sign-in: an API key exchanged for a session cookie."),
        ("Operations", "Liveness and readiness probes."),
    ];

    /// <summary>Registers both documents. Product operations without a summary or operation id are a bug the tests name.</summary>
    public static IServiceCollection AddHeraldOpenApi(this IServiceCollection services)
    {
        services.AddOpenApi(Product, o =>
        {
            o.ShouldInclude = static d => !IsSandbox(d);
            o.AddDocumentTransformer(static (document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Herald API",
                    Version = "1.0.0",
                    Description = "Herald distributes notifications from banks to their customers over WhatsApp, Telegram, SMS, email and push. "
                        + "Authenticate with a tenant API key as `Authorization: Bearer <key>` (the console uses its session cookie instead). "
                        + "Every error is RFC 9457 `application/problem+json`; input errors carry `errors: [{pointer, detail}]` locating each problem.",
                    License = new OpenApiLicense { Name = "Proprietary", Url = new Uri("https://herald.dev/license") },
                };
                document.Tags = new HashSet<OpenApiTag>(Tags.Select(static t => new OpenApiTag { Name = t.Name, Description = t.Description }));
                TrimServers(document);
                DropNullFromSharedEnums(document);
                return Task.CompletedTask;
            });
            o.AddOperationTransformer<ProductOperationTransformer>();
            o.AddSchemaTransformer(static (schema, _, _) =>
            {
                NumbersAsNumbers(schema);
                return Task.CompletedTask;
            });
        });
        services.AddOpenApi(Sandbox, o =>
        {
            o.ShouldInclude = IsSandbox;
            o.AddDocumentTransformer(static (document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Herald provider sandbox",
                    Version = "1.0.0",
                    Description = "The simulated vendors (WhatsApp Cloud API, Telegram Bot API, Twilio SMS, FCM) Herald's sandbox accounts send to, "
                        + "and the sandbox's read and control endpoints. No part of Herald's API (that is /openapi/v1.json).",
                };
                document.Tags = new HashSet<OpenApiTag> { new() { Name = "Sandbox", Description = "The provider sandbox." } };
                TrimServers(document);
                DropNullFromSharedEnums(document);
                return Task.CompletedTask;
            });
            o.AddOperationTransformer(static (operation, context, _) =>
            {
                // The read and control endpoints take the sandbox's control key; the vendor paths take what the vendor's
                // API takes (a token in the path or a header of its own), which Herald does not check.
                var document = context.Document!;
                var control = context.Description.ActionDescriptor.EndpointMetadata.OfType<Herald.Sandbox.SandboxControl.ControlEndpoint>().Any();
                if (control)
                {
                    document.Components ??= new OpenApiComponents();
                    document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                    document.Components.SecuritySchemes.TryAdd(SandboxControlScheme, new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.Http,
                        Scheme = "bearer",
                        Description = "Herald:Sandbox:ControlKey (else the system admin key) as `Authorization: Bearer`; the embedded demo asks for none.",
                    });
                }

                operation.Security = control ? [Requirement(document, SandboxControlScheme)] : [];
                operation.Tags = new HashSet<OpenApiTagReference> { new("Sandbox", document) };
                operation.Summary ??= $"{context.Description.HttpMethod} /{context.Description.RelativePath}";
                operation.OperationId ??= OperationId(context.Description);
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>The sandbox's paths: everything under <c>/sandbox</c> and the Telegram Bot API at the root.</summary>
    public static bool IsSandbox(ApiDescription description) =>
        description.RelativePath is { } path && (path.StartsWith("sandbox/", StringComparison.Ordinal) || path == "sandbox"
            || path.StartsWith("bot{token}", StringComparison.Ordinal));

    /// <summary>The request's own address as the server, without the trailing slash (no base path follows it).</summary>
    private static void TrimServers(OpenApiDocument document)
    {
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }
    }

    /// <summary>
    /// The generator writes an enum's component from the first property it meets; when that property is nullable
    /// (<c>NotificationStatus?</c>), <c>null</c> lands among the component's values and every non-null use would allow
    /// it. Nullable uses are written as <c>oneOf: [null, $ref]</c> anyway, so the component keeps only real values.
    /// </summary>
    private static void DropNullFromSharedEnums(OpenApiDocument document)
    {
        foreach (var schema in document.Components?.Schemas?.Values.OfType<OpenApiSchema>() ?? [])
        {
            if (schema.Enum is { } values)
            {
                for (var i = values.Count - 1; i >= 0; i--)
                {
                    if (values[i] is null || values[i]!.GetValueKind() == System.Text.Json.JsonValueKind.Null)
                    {
                        values.RemoveAt(i);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Herald's JSON options read a number written as a string too (the web defaults), so the generator declares every
    /// number as <c>integer | string</c> with a digits pattern. Herald writes numbers as numbers, and a client should
    /// send them so: the document says number.
    /// </summary>
    private static void NumbersAsNumbers(OpenApiSchema schema)
    {
        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && (type & JsonSchemaType.String) != 0)
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
    }

    /// <summary>The path as the document writes it: parameters without their route constraints.</summary>
    private static string DocumentPath(ApiDescription description) =>
        System.Text.RegularExpressions.Regex.Replace(description.RelativePath ?? "", @"\{([^}:=?]+)[^}]*\}", "{$1}");

    /// <summary>A fallback operation id from the method and the path (<c>GET /v1/rules/versions</c> → <c>getV1RulesVersions</c>).</summary>
    internal static string OperationId(ApiDescription description)
    {
        var id = new System.Text.StringBuilder((description.HttpMethod ?? "any").ToLowerInvariant());
        foreach (var part in DocumentPath(description).Split('/', '{', '}', '.', ':', '-'))
        {
            if (part.Length > 0 && char.IsLetterOrDigit(part[0]))
            {
                id.Append(char.ToUpperInvariant(part[0])).Append(part.AsSpan(1).ToString().Where(char.IsLetterOrDigit).ToArray());
            }
        }

        return id.ToString();
    }

    /// <summary>
    /// Per operation of the product document: the security requirement its authorization asks for (none for anonymous
    /// endpoints, stated as an empty list), the 400 every request may get from the request guard (a path or query value
    /// storage cannot hold), 401 and 403 where a key is required, and every problem answer as the one
    /// <see cref="Problem"/> schema (an endpoint's own problem subtype, such as the rule set's, is kept).
    /// </summary>
    private sealed class ProductOperationTransformer : IOpenApiOperationTransformer
    {
        public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
        {
            var document = context.Document!;
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var problem = await ProblemSchemaAsync(document, context, cancellationToken);
            AddSecuritySchemes(document);
            AddPathParameters(operation, context.Description);

            var access = AccessOf(metadata);
            operation.Security = access switch
            {
                Access.Anonymous => [],
                Access.System => [Requirement(document, BearerScheme)],
                Access.Session => [Requirement(document, SessionScheme)],
                _ => [Requirement(document, BearerScheme), Requirement(document, SessionScheme)],
            };

            operation.Responses ??= new Microsoft.OpenApi.OpenApiResponses();
            SetProblem(operation, problem, StatusCodes.Status400BadRequest);
            if (access != Access.Anonymous)
            {
                SetProblem(operation, problem, StatusCodes.Status401Unauthorized);
                SetProblem(operation, problem, StatusCodes.Status403Forbidden);
            }

            foreach (var (code, response) in operation.Responses.ToList())
            {
                if (response is OpenApiResponse concrete)
                {
                    if (concrete.Content?.TryGetValue(Problems.ContentType, out var media) == true && !IsOwnProblem(media.Schema))
                    {
                        media.Schema = problem;
                    }

                    if (int.TryParse(code, out var status) && Descriptions.TryGetValue(status, out var description)
                        && (string.IsNullOrEmpty(concrete.Description) || concrete.Description == ReasonPhrase(status)))
                    {
                        concrete.Description = description;
                    }
                }
            }

            operation.OperationId ??= OperationId(context.Description);
        }

        /// <summary>Declares <paramref name="status"/> as a problem answer; a response declared with another body
        /// (the batch's per-item 400) gets the problem as a second content type.</summary>
        private static void SetProblem(OpenApiOperation operation, IOpenApiSchema problem, int status)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses!.TryGetValue(key, out var existing))
            {
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = Descriptions[status],
                    Content = new Dictionary<string, OpenApiMediaType> { [Problems.ContentType] = new() { Schema = problem } },
                };
            }
            else if (existing is OpenApiResponse response)
            {
                response.Content ??= new Dictionary<string, OpenApiMediaType>();
                response.Content.TryAdd(Problems.ContentType, new OpenApiMediaType { Schema = problem });
            }
        }

        /// <summary>A reference to the one <see cref="Problem"/> component, registered once.</summary>
        private static async Task<IOpenApiSchema> ProblemSchemaAsync(OpenApiDocument document, OpenApiOperationTransformerContext context, CancellationToken ct)
        {
            if (document.Components?.Schemas?.ContainsKey(nameof(Problem)) != true)
            {
                document.AddComponent(nameof(Problem), await context.GetOrCreateSchemaAsync(typeof(Problem), null, ct));
            }

            return new OpenApiSchemaReference(nameof(Problem), document);
        }

        /// <summary>A route parameter the handler reads itself (a callback alias reads its account id from the route
        /// values) is still a parameter of the path: declared as a required string.</summary>
        private static void AddPathParameters(OpenApiOperation operation, ApiDescription description)
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(DocumentPath(description), @"\{([^}]+)\}"))
            {
                var name = match.Groups[1].Value;
                if (operation.Parameters?.Any(p => p.In == ParameterLocation.Path && p.Name == name) != true)
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Path,
                        Required = true,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
            }
        }

        /// <summary>A problem subtype an endpoint declares on purpose (more members than <see cref="Problem"/>).</summary>
        private static bool IsOwnProblem(IOpenApiSchema? schema) =>
            schema is OpenApiSchemaReference { Reference.Id: { } id } && id is not ("Problem" or "ProblemDetails" or "HttpValidationProblemDetails");

        private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
    }

    private enum Access
    {
        Anonymous,
        Tenant,
        System,
        Session,
    }

    /// <summary>From the endpoint's metadata as authorization reads it: <see cref="IAllowAnonymous"/> wins; a policy of
    /// <see cref="Policies.System"/> takes the admin key only; the console session scheme alone takes only the cookie.</summary>
    private static Access AccessOf(IList<object> metadata)
    {
        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            return Access.Anonymous;
        }

        var authorize = metadata.OfType<IAuthorizeData>().ToList();
        if (authorize.Count == 0 && !metadata.OfType<AuthorizationPolicy>().Any())
        {
            return Access.Anonymous;
        }

        if (authorize.Count > 0 && authorize.All(static a => a.Policy == Policies.System))
        {
            return Access.System;
        }

        return authorize.Count > 0 && authorize.All(static a => a.AuthenticationSchemes == ConsoleSessionHandler.SchemeName)
            ? Access.Session
            : Access.Tenant;
    }

    private static void AddSecuritySchemes(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes.TryAdd(BearerScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "API key",
            Description = "A tenant API key (`hk_...`, created with POST /v1/keys or by the operator) as `Authorization: Bearer <key>`; "
                + "its roles (send, read, admin, viewer) decide what it may do. Operations tagged Admin take the system admin key (Herald:AdminKey).",
        });
        document.Components.SecuritySchemes.TryAdd(SessionScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Cookie,
            Name = ConsoleSessionHandler.CookieName,
            Description = "The operator console's HttpOnly, SameSite=Strict session cookie, set by POST /console/session in exchange for a tenant API key. "
                + $"It carries the key's roles; a write (any method but GET, HEAD, OPTIONS) must also send the session's CSRF token as `{ConsoleSessionHandler.CsrfHeader}`.",
        });
    }

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument document, string scheme) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };

    private static readonly Dictionary<int, string> Descriptions = new()
    {
        [StatusCodes.Status400BadRequest] = "The request is invalid; nothing changed. `errors` locates each problem (a JSON Pointer into the body, or `query/<name>`, `path/<name>`, `headers/<name>`).",
        [StatusCodes.Status401Unauthorized] = "No key, or an unknown, revoked or expired one (or no console session).",
        [StatusCodes.Status403Forbidden] = "The key lacks the role this operation requires (or a console write came without its CSRF token).",
        [StatusCodes.Status404NotFound] = "Not found (or not the tenant's).",
        [StatusCodes.Status409Conflict] = "The resource's state does not allow this; nothing changed.",
        [StatusCodes.Status412PreconditionFailed] = "If-Match named another version than the current one; nothing changed.",
        [StatusCodes.Status413PayloadTooLarge] = "The body is larger than this operation accepts; nothing was read past the limit.",
        [StatusCodes.Status415UnsupportedMediaType] = "The body must be `application/json`.",
        [StatusCodes.Status422UnprocessableEntity] = "Well-formed but not acceptable; nothing changed. `errors` says why.",
        [StatusCodes.Status429TooManyRequests] = "The tenant's quota is exceeded; `Retry-After` says when to try again.",
        [StatusCodes.Status503ServiceUnavailable] = "Storage does not answer or the node is draining; try again.",
    };
}
