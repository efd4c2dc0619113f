using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace CatsDogs.ML.Tests;

/// <summary>The web app in memory (no socket), serving a saved model, as the API tests host it.</summary>
internal static class TestWebApp
{
    /// <summary>The app with <c>--model</c> and <c>--models-dir</c> set, then <paramref name="settings"/>; the caller disposes it.</summary>
    public static WebApplicationFactory<Program> Serving(string model, string modelsDirectory, params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("model", model);
            builder.UseSetting("models-dir", modelsDirectory);
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });
}
