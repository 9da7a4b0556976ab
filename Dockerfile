# tvphone in a container: docker build -t tvphone . && docker run --rm -p 5060:5060/udp -p 5060:5060/tcp -v tvphone-data:/var/lib/tvphone/data tvphone
# Admin commands in the running container: docker exec -i CONTAINER tvphone users add 1001 --password-stdin

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no prepare before the sources are here, and no download of the pinned `node`
# devDependency (the image has its own Node 24)
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.js && npm prune --omit=dev --ignore-scripts

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY sql ./sql
COPY sip-profiles ./sip-profiles
RUN ln -s /app/bin/tvphone /usr/local/bin/tvphone \
 && mkdir -p /var/lib/tvphone/data && chown -R node:node /var/lib/tvphone
# the image's unprivileged user; binding 5060 needs no capability since Docker 20.10
# (net.ipv4.ip_unprivileged_port_start=0 in the container's network namespace)
USER node
# the default profile's sqlite:./data/tvphone.db resolves here: keep data/ on a volume
WORKDIR /var/lib/tvphone
VOLUME /var/lib/tvphone/data
EXPOSE 5060/udp 5060/tcp
ENTRYPOINT ["tvphone"]
CMD ["serve"]
