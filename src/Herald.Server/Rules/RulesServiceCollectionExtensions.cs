using Herald.Core.Routing;
using Herald.Core.Rules;
using Herald.Storage;
using IRouter = Herald.Core.Routing.IRouter;
using Microsoft.Extensions.Options;

namespace Herald.Server.Rules;

public static class RulesServiceCollectionExtensions
{
    /// <summary>Registers the rule engine as the router (<see cref="IRouter"/> is a <see cref="RuleRouter"/> over this
    /// node's <see cref="RuleSetCache"/>), the rules' change subscriber, the error reporting and the API's JSON.</summary>
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
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(RulesJson.Default));
        return services;
    }
}
