using Herald.Core.Templates;
using Herald.Server.Delivery;
using Herald.Storage;

namespace Herald.Server.Templates;

public static class TemplatesServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldTemplates(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TemplatesOptions>().Bind(configuration.GetSection(TemplatesOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TemplateRenderer>();
        services.AddSingleton<TemplateCache>();
        services.AddSingleton<IChangeSubscriber, TemplateCacheSubscriber>();
        services.AddSingleton<MessageComposer>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(TemplatesJson.Default));
        return services;
    }
}
