using Herald.Core.Routing;
using Herald.Core.Planning;
using Herald.Core.Rules;
using Herald.Server.Customers;
using Herald.Storage;
using IRouter = Herald.Core.Routing.IRouter;
using Microsoft.Extensions.Options;

namespace Herald.Server.Rules;

public static class RulesServiceCollectionExtensions
{
    /// <summary>Registers the rule engine as the router (<see cref="IRouter"/> is a <see cref="RuleRouter"/> over this
    /// node's <see cref="RuleSetCache"/>), the rules' change subscriber, the error reporting, the notification planner and the API's JSON.</summary>
    public static IServiceCollection AddHeraldRules(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RulesOptions>().BindConfiguration(RulesOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<RuleMetrics>();
        services.AddSingleton<RuleErrorReporter>();
        services.AddSingleton<RuleSetCache>();
        services.AddSingleton<IRuleSetSource>(sp => sp.GetRequiredService<RuleSetCache>());
        services.AddHostedService(sp => sp.GetRequiredService<RuleSetCache>());
        services.AddSingleton<IChangeSubscriber, RuleChangeSubscriber>();
        services.AddSingleton(sp => new RuleRouter(
            sp.GetRequiredService<IRuleSetSource>(),
            new DefaultRouter(sp.GetRequiredService<IOptions<DefaultRouteOptions>>().Value),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<RuleErrorReporter>().Report));
        services.AddSingleton<IRouter>(sp => sp.GetRequiredService<RuleRouter>());
        // The one planner ingest and the dry run share (Core, pure); the node's opt-out fallback comes from Customers.
        services.AddSingleton(sp => new NotificationPlanner(
            new DefaultRouter(sp.GetRequiredService<IOptions<DefaultRouteOptions>>().Value),
            sp.GetRequiredService<IOptions<CustomersOptions>>().Value.OptOutExemptTypes,
            sp.GetRequiredService<RuleErrorReporter>().Report));
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(RulesJson.Default));
        return services;
    }
}
