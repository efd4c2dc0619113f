using CatsDogs.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CatsDogs.ML.Tests;

/// <summary>
/// The web app on a real Kestrel server, on a free port of 127.0.0.1 only, for browser and load tests; stopped (within
/// 10 s) when disposed.
/// </summary>
internal sealed class WebServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The server's base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    /// <summary>Starts the app with <paramref name="args"/> (its command line) on a free local port.</summary>
    public static async Task<WebServer> StartAsync(params string[] args)
    {
        var app = WebApp.Build([.. args, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await app.StartAsync(timeout.Token);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new WebServer(app, new Uri(address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
